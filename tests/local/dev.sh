#!/usr/bin/env bash
# `make dev`: the suite on this machine. Starts moto (DynamoDB, SES v2, Cognito) on a free
# loopback port, prepares it with `tenantctl setup`, provisions the demo organization `acme`
# with an administrator, then runs the functions under `cargo lambda watch` until Ctrl-C,
# which stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
venv=$root/.venv
state=$root/.local
mkdir -p "$state"
export PATH="$venv/bin:$PATH"

free_port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pids=()
cleanup() {
  trap - EXIT INT TERM
  # Stop first, speak after: the terminal (or a pipe) may already be gone.
  trap '' PIPE
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ((${#pids[@]})); then echo "==> stopped the local suite" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

moto_port=$(free_port)
endpoint="http://127.0.0.1:$moto_port"
echo "==> starting the local AWS (moto) on $endpoint"
setsid "$venv/bin/python" tests/local/moto_server.py -H 127.0.0.1 -p "$moto_port" >"$state/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$endpoint/moto-api/data.json', timeout=1)" 2>/dev/null; then break; fi
  sleep 0.2
done

arn() { echo "arn:aws:lambda:us-east-1:123456789012:function:$1"; }
cat >"$state/dev.env" <<ENV
AWS_ENDPOINT_URL=$endpoint
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=local
AWS_SECRET_ACCESS_KEY=local
TABLE_NAME=signin-local
BASE_DOMAIN=app.localhost
MAIL_FROM=no-reply@app.localhost
PRE_SIGNUP_ARN=$(arn pre-signup)
POST_CONFIRMATION_ARN=$(arn post-confirmation)
PRE_AUTHENTICATION_ARN=$(arn pre-authentication)
POST_AUTHENTICATION_ARN=$(arn post-authentication)
PRE_TOKEN_GENERATION_ARN=$(arn pre-token-generation)
USER_MIGRATION_ARN=$(arn user-migration)
CUSTOM_MESSAGE_ARN=$(arn custom-message)
ORG_CACHE_SECONDS=5
ENV
set -a; . "$state/dev.env"; set +a

tenantctl="$root/target/debug/tenantctl"
echo "==> preparing the local AWS"
"$tenantctl" setup
echo "==> provisioning the demo organization acme"
"$tenantctl" org create --subdomain acme --name "Acme Corporation" \
  --admin-email admin@acme.example --email-domain acme.example --mfa optional --seats 25

# The welcome mail as moto keeps it: who it went to and the temporary password in it.
mail=$("$venv/bin/python" - "$endpoint" <<'PY'
import json, re, sys, urllib.request
data = json.load(urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json"))
for m in reversed(data.get("ses", {}).get("Message", [])):
    to = m["destinations"]["ToAddresses"][0]
    pw = re.search(r"Temporary password</td><td><code>([^<]+)</code>", m["body"])
    print(f"{to} {pw.group(1) if pw else '?'}")
    break
PY
)
admin=${mail%% *}
password=${mail#* }
pool=$("$tenantctl" --output json org show acme | "$venv/bin/python" -c 'import json,sys; o=json.load(sys.stdin); print(o["cognito"]["user_pool_id"], o["cognito"]["app_client_id"])')

# acme's SCIM token (shown once), for a directory's requests to the scim function.
scim_token=$("$tenantctl" --output json org scim-token acme | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# Sample events for acme's own pool and administrator, ready for `cargo lambda invoke`.
mkdir -p "$state/events"
"$venv/bin/python" - "${pool% *}" "$admin" "$state/events" <<'PY'
import json, sys
pool, user, out = sys.argv[1:4]
for function, name in [("pre-authentication", "authentication"), ("post-authentication", "authentication"),
                       ("pre-token-generation", "v2-authentication"),
                       ("custom-message", "forgot-password"), ("pre-signup", "admin-create-user")]:
    event = json.load(open(f"events/{function}/{name}.json"))
    event["userPoolId"], event["userName"] = pool, user
    attributes = event.get("request", {}).get("userAttributes")
    if isinstance(attributes, dict) and "email" in attributes:
        attributes["email"] = user
    if function == "post-authentication":
        # The administrator has not chosen a password yet: the demo must not record a first login.
        attributes["cognito:user_status"] = "FORCE_CHANGE_PASSWORD"
    json.dump(event, open(f"{out}/{function}.json", "w"), indent=2)
PY

invoke_port=$(free_port)
router_port=$(free_port)
cat <<INFO

==> the local suite is up
  local AWS (moto)      $endpoint     (dashboard: $endpoint/moto-api/)
  organization acme     user pool ${pool% *}, app client ${pool#* }
  login page            http://acme.app.localhost:$router_port/login
  discovery page        http://app.localhost:$router_port/   (type admin@acme.example or acme)
                        (browsers resolve *.localhost to this machine: open these in one)
  administrator         $admin
  temporary password    $password   (from the welcome mail; the first sign-in must change it)
  mail                  every mail SES sent is in $endpoint/moto-api/data.json under "ses"
  functions             cargo lambda watch on 127.0.0.1:$invoke_port
  SCIM token (acme)     $scim_token

Try, in another terminal, from this folder (the first line makes tenantctl, cargo lambda
and the venv's python the ones of this project):
  set -a; . .local/dev.env; set +a; export PATH="\$PWD/.venv/bin:\$PWD/target/debug:\$PATH"
  tenantctl org list
  tenantctl org audit acme
  cargo lambda invoke tenant-migration --invoke-address 127.0.0.1 --invoke-port $invoke_port \\
      --data-file events/tenant-migration/create-organization.json   # creates sample-event-org
  cargo lambda invoke pre-token-generation --invoke-address 127.0.0.1 --invoke-port $invoke_port \\
      --data-file .local/events/pre-token-generation.json      # acme's claims for $admin
  cargo lambda invoke post-authentication --invoke-address 127.0.0.1 --invoke-port $invoke_port \\
      --data-file .local/events/post-authentication.json       # person-level checks, after the password
  curl -s http://127.0.0.1:$invoke_port/lambda-url/admin-api/v1/openapi.json | head -c 300; echo   # the admin API
  token=\$(python tests/local/dev_token.py $admin '$password' 'Choose-4-new-one!')
  curl -s -H "Authorization: Bearer \$token" http://127.0.0.1:$invoke_port/lambda-url/admin-api/v1/users; echo
  curl -s -H "Host: acme.app.localhost" -H "Authorization: Bearer $scim_token" \\
      "http://127.0.0.1:$invoke_port/lambda-url/scim/scim/v2/Users?filter=userName%20eq%20%22$admin%22"; echo   # SCIM, as Entra ID asks
  tenantctl org suspend acme; sleep 5
  cargo lambda invoke pre-authentication --invoke-address 127.0.0.1 --invoke-port $invoke_port \\
      --data-file .local/events/pre-authentication.json        # now refused

Ctrl-C stops moto and the functions.
INFO

# With the features `make build` built them with (integration-tests/test-features), so that
# `cargo lambda watch` runs those binaries instead of building the functions again.
features="${CARGO_FEATURES:-integration-tests/test-features}"
setsid cargo lambda watch --features "$features" --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
  --env-file "$state/dev.env" >"$state/functions.log" 2>&1 &
pids+=($!)
# The router alone on its own port, so that every path reaches it with the browser's Host
# (as behind the wildcard domain); plain http on *.localhost, with the port in its links.
{ cat "$state/dev.env"; echo "ROUTER_SCHEME=http"; echo "ROUTER_PORT=$router_port"; } >"$state/router.env"
setsid cargo lambda watch --features "$features" --bin auth-router --invoke-address 127.0.0.1 --invoke-port "$router_port" \
  --env-file "$state/router.env" >"$state/router.log" 2>&1 &
pids+=($!)
echo "  (function logs: .local/functions.log, the router's: .local/router.log)"
wait "${pids[@]}"
