// aws-jwt-verify on the same tokens as the Rust verifier (the admin API benchmark runs this).
// Usage: node jwt_verify_bench.mjs <pool id> <client id> <jwks.json> <tokens.txt>
// Prints one JSON line: verifications per second for distinct tokens, and for one token
// verified again and again.
import { readFileSync } from "node:fs";
import { CognitoJwtVerifier } from "aws-jwt-verify";

const [poolId, clientId, jwksPath, tokensPath] = process.argv.slice(2);
const jwks = JSON.parse(readFileSync(jwksPath, "utf8"));
const tokens = readFileSync(tokensPath, "utf8").split("\n").filter(Boolean);
const verifier = CognitoJwtVerifier.create({ userPoolId: poolId, clientId, tokenUse: "access" });
verifier.cacheJwks(jwks);
verifier.verifySync(tokens[0]);

let start = process.hrtime.bigint();
for (const t of tokens.slice(1)) verifier.verifySync(t);
const distinct = (tokens.length - 1) / (Number(process.hrtime.bigint() - start) / 1e9);

const repeats = 20000;
start = process.hrtime.bigint();
for (let i = 0; i < repeats; i++) verifier.verifySync(tokens[1]);
const repeated = repeats / (Number(process.hrtime.bigint() - start) / 1e9);

console.log(JSON.stringify({ distinct, repeated }));
