# The two commands of the README:
#   make dev    run the suite locally (local AWS on loopback, a demo organization, the functions)
#   make test   run every test (unit tests, and integration tests against a local AWS they start)
# Everything they need comes from the package registries into .venv; nothing is installed globally.

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-$(shell cksum < tests/local/requirements.txt | cut -d' ' -f1)

NODE_STAMP := tests/local/node_modules/.installed
INFRA_STAMP := infra/node_modules/.installed

# The functions' binaries are built with the features `cargo test` turns on through
# dev-dependencies (tests/Cargo.toml, `test-features`): one build of every crate serves the
# binaries, `cargo lambda watch` and the tests. Deployments build without it.
FEATURES := --features integration-tests/test-features

.PHONY: dev test test-long test-prepare bench bench-packages venv node infra infra-test browser build build-tests lint clean

$(STAMP): tests/local/requirements.txt
	@echo "==> installing the local AWS stack (moto server), cargo-lambda and cfn-lint into $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -r tests/local/requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

# cognito-local: a Cognito that really invokes the trigger functions (end-to-end tests).
$(NODE_STAMP): tests/local/package.json tests/local/package-lock.json
	@echo "==> installing cognito-local into tests/local/node_modules"
	cd tests/local && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node: $(NODE_STAMP)

# The CDK app (infra/): its npm packages, pinned by infra/package-lock.json.
$(INFRA_STAMP): infra/package.json infra/package-lock.json
	@echo "==> installing the CDK app's packages into infra/node_modules"
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

infra: $(INFRA_STAMP)

# The CDK app's tests, offline and without building the Rust functions: the function table
# against the workspace, template assertions and cdk-nag (node's test runner); then
# `cdk synth` of both stages and cfn-lint on the two templates.
CDK := CDK_DISABLE_CLI_TELEMETRY=true TS_NODE_TRANSPILE_ONLY=true npx cdk --no-notices
infra-test: venv infra
	cd infra && npm test
	cd infra && rm -rf cdk.out && for stage in dev prod; do \
	  $(CDK) synth --quiet -c stage=$$stage -c bundling=skip -o cdk.out/$$stage || exit 1; \
	done
	$(VENV)/bin/cfn-lint --config-file infra/.cfnlintrc.yaml -- infra/cdk.out/dev/*.template.json infra/cdk.out/prod/*.template.json
	@echo "==> cfn-lint: no findings in the dev and prod templates"

# Debian's Chromium for the browser test of the login pages (driven by playwright-core from
# tests/local). Installed with apt when missing and running as root (as CI does).
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "==> installing Debian's chromium for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser test needs Chromium at $(CHROMIUM): install it with 'sudo apt-get install chromium', or run 'make test CHROMIUM=/path/to/chromium'." >&2; \
	    exit 1; \
	  fi; \
	fi

build:
	cargo build --workspace --bins $(FEATURES)

# The binaries and every test target in one cargo run (no second feature set, no barrier
# between the two).
build-tests:
	cargo build --workspace --bins --tests $(FEATURES)

dev: venv build
	@bash tests/local/dev.sh

# What the tests need, side by side: the downloads (pip, npm, apt) and the CDK app's tests
# wait on the network and on node while cargo compiles on every core.
test-prepare:
	@$(MAKE) --no-print-directory -j5 --output-sync=line venv node browser infra-test build-tests

test: test-prepare
	CHROMIUM=$(CHROMIUM) cargo test --workspace --no-fail-fast $(FEATURES)

# The long soak, not part of `make test`: the kill-and-resume migration at 5,000 people
# (about 18 minutes since issue 26: moto copies the whole table per transaction). `make test`
# keeps the same test at 500 people. `make bench` runs it last.
test-long: venv build
	cargo test --workspace $(FEATURES) --test it -- --ignored --exact migration::soak_of_5000_people_killed_and_resumed

bench: venv node
	cargo bench -p integration-tests --bench triggers
	cargo bench -p integration-tests --bench admin_api
	cargo bench -p integration-tests --bench people_scale
	cargo bench -p integration-tests --bench scim
	cargo bench -p integration-tests --bench auth_router
	cargo bench -p user-migration --bench verification
	$(MAKE) --no-print-directory test-long

# Every function's release package: size, gzip size and start-up (to the first poll of a stub
# of the Lambda runtime API) beside a bare lambda_runtime function built in the same run.
# BENCH_STARTS=N (default 100), BENCH_PACKAGES=a,b (some functions only).
bench-packages:
	@cargo run -q -p package-bench --bin bench-packages

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf $(VENV) .local target tests/local/node_modules infra/node_modules infra/cdk.out
