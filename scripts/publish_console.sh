#!/usr/bin/env bash
# Publishes the web console to a deployed stack: builds it, writes its runtime configuration
# (config.json: the API under /api on the same origin, Cognito's regional endpoint, the pool and
# its client, from the stack's outputs), uploads it to the stack's private bucket and makes
# CloudFront serve the new version.
#
#   scripts/publish_console.sh ENV        (an environment of samconfig.toml: dev, prod; make publish-console ENV=...)
#
# Needs the AWS CLI with credentials for the stack's account, and Node.js with npm. The bucket
# keeps every version: scripts/console_rollback.py brings an earlier publication back.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

env=${1:-}
[[ -n "$env" ]] || die "which environment? scripts/publish_console.sh dev|prod (samconfig.toml)"
read -r stack region < <("$PY" -c 'import sys; sys.path.insert(0, "scripts"); import samconfig
c = samconfig.load(sys.argv[1]); print(c["stack_name"], c["region"] or "")' "$env" 2>/dev/null) \
  || die "samconfig.toml has no environment $env"
command -v aws >/dev/null || die "the AWS CLI is needed (scripts/bootstrap.sh installs it in .venv)"
region=${region:-${AWS_REGION:-$AWS_DEFAULT_REGION}}

output() {
  aws cloudformation describe-stacks --stack-name "$stack" --region "$region" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
step "Reading the outputs of $stack ($region)"
bucket=$(output ConsoleBucketName)
distribution=$(output ConsoleDistributionId)
pool=$(output UserPoolId)
client=$(output UserPoolClientId)
url=$(output ConsoleDistributionUrl)
for value in "$bucket" "$distribution" "$pool" "$client"; do
  [[ -n "$value" && "$value" != "None" ]] || die "$stack lacks the console's outputs: deploy this template first (make deploy ENV=$env)"
done

step "Building the console (npm run console:build)"
[[ -d console/node_modules ]] || (cd console && npm ci --no-audit --no-fund --loglevel=error)
npm run --silent console:build
node tests/console_budget.mjs --check

step "Writing its configuration (console/dist/config.json)"
python3 - "$region" "$pool" "$client" > console/dist/config.json <<'PY'
import json, sys
region, pool, client = sys.argv[1:4]
print(json.dumps({"apiUrl": "/api", "cognitoEndpoint": f"https://cognito-idp.{region}.amazonaws.com/",
                  "region": region, "userPoolId": pool, "clientId": client, "signInFlow": "USER_SRP_AUTH"}))
PY

step "Uploading to s3://$bucket"
# Hashed assets never change: cached for a year, and kept (a console opened before this
# publication still loads its pages' chunks). The page and its configuration: revalidated.
aws s3 sync console/dist/assets "s3://$bucket/assets" --region "$region" \
  --cache-control "public, max-age=31536000, immutable"
for file in index.html config.json; do
  aws s3 cp "console/dist/$file" "s3://$bucket/$file" --region "$region" --cache-control "no-cache"
done

step "Invalidating /index.html and /config.json in CloudFront"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths /index.html /config.json >/dev/null
info "The console: $(output ConsoleUrl) (CloudFront's name for it: $url)"
