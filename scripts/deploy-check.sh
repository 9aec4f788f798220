#!/usr/bin/env bash
# Everything about the AWS deployment that can be checked without an AWS account:
#   1. cfn-lint template.yaml                  (CloudFormation and SAM rules), and checkov
#                                               (policies; reasoned skips in infra/checkov.yaml)
#   2. sam validate --lint                     (SAM's own lint)
#   3. sam validate (offline SAM transform)    (the template expands into a valid stack)
#   4. sam build                               (cargo lambda build --release --arm64 of each
#                                               bundle's binary, lambda/<bundle>, copied to its
#                                               functions)
#   5. a look at the result: every function's bootstrap is an aarch64 ELF; zip sizes.
# template.yaml is generated (`cargo xtask generate`); its staleness check runs with the tests.
#
# Tools come from requirements-deploy.txt, installed into .venv-deploy/ (kept apart from the test
# tooling of .venv/, whose boto3 the SAM CLI would downgrade). A cold release build of the arm64
# binary dominates the time: see infra/DEPLOY.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$root/.venv-deploy"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
ensure_venv "$venv" requirements-deploy.txt
export PATH="$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0

# cargo lambda cross-compiles with zig, but needs Rust's standard library for the target, which
# rustup downloads. Where that download is impossible, the build step says so loudly and the
# checks that need no arm64 standard library still run.
arm64=yes
ensure_arm64_std || arm64=no

step "cfn-lint" cfn-lint template.yaml
ensure_venv "$root/.venv-checkov" requirements-checkov.txt
step "checkov (skips and their reasons: infra/checkov.yaml)" \
  "$root/.venv-checkov/bin/checkov" --config-file infra/checkov.yaml -f template.yaml
step "sam validate --lint" sam validate --lint
# The full SAM transform runs locally; it needs a region and (unused) credentials.
step "sam validate" env AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-offline}" \
  AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-offline}" sam validate --region "${AWS_REGION:-us-east-1}"
if [[ "$arm64" == no ]]; then
  echo "==> sam build NOT RUN: the aarch64-unknown-linux-gnu standard library could not be installed (rustup needs its download site)." >&2
  echo "deploy-check: lint and validate OK; build not checked"
  exit 0
fi
step "sam build" sam build

# Every function got the arm64 bootstrap (ELF e_machine 183 = AArch64).
python3 - <<'PY'
import io, os, struct, sys, zipfile
build = ".aws-sam/build"
functions = sorted(d for d in os.listdir(build) if os.path.isdir(os.path.join(build, d)))
bad = []
for d in functions:
    path = os.path.join(build, d, "bootstrap")
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        bad.append(f"{d}: no bootstrap")
        continue
    if head[:4] != b"\x7fELF" or struct.unpack_from("<H", head, 18)[0] != 183:
        bad.append(f"{d}: bootstrap is not an aarch64 ELF")
if bad or not functions:
    sys.exit("sam build output is wrong:\n" + "\n".join(bad or ["no functions built"]))
sizes = {}
for d in functions:
    binary = os.path.join(build, d, "bootstrap")
    with open(binary, "rb") as f:
        data = f.read()
    if data not in sizes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("bootstrap", data)
        sizes[data] = [len(data), len(buf.getvalue()), 0]
    sizes[data][2] += 1
print(f"==> {len(functions)} functions, {len(sizes)} distinct binaries:")
for raw, zipped, n in sizes.values():
    print(f"    {n} functions: {raw / 1e6:.2f} MB, {zipped / 1e6:.2f} MB zipped")
PY
echo "deploy-check: OK"
