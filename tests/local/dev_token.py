"""An access token of acme's administrator from the local AWS, for trying the admin API.

Usage (after `make dev`, in another terminal, from the repository's folder):
    set -a; . .local/dev.env; set +a
    .venv/bin/python tests/local/dev_token.py USERNAME PASSWORD [NEW_PASSWORD]

The first sign-in with the temporary password from the welcome mail must choose a new
password (NEW_PASSWORD); later ones use it. Prints the access token on stdout.
"""
import json
import os
import subprocess
import sys

import boto3


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    username, password = sys.argv[1], sys.argv[2]
    new_password = sys.argv[3] if len(sys.argv) > 3 else None
    org = json.loads(subprocess.run(
        [os.environ.get("TENANTCTL", "target/debug/tenantctl"), "--output", "json", "org", "show",
         os.environ.get("DEV_ORG", "acme")],
        check=True, capture_output=True, text=True).stdout)
    client_id = org["cognito"]["app_client_id"]
    cognito = boto3.client("cognito-idp", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                           region_name=os.environ["AWS_REGION"])
    answer = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": username, "PASSWORD": password})
    if answer.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
        if not new_password:
            print("This is the first sign-in: give a new password as the third argument.", file=sys.stderr)
            return 2
        answer = cognito.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=answer["Session"],
            ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": new_password})
    print(answer["AuthenticationResult"]["AccessToken"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
