# Shared helpers for the scripts in this folder. Source it; it defines functions only.
# Every tool the project needs is installed, pinned, below .tools/ (git-ignored).

ENGRAM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ENGRAM_ROOT/.tools"
mkdir -p "$TOOLS/bin" "$TOOLS/venvs"

say() { printf '==> %s\n' "$*" >&2; }

# venv NAME REQUIREMENT...: a Python virtualenv at .tools/venvs/NAME holding exactly these pinned
# requirements. Re-created only when the requirement list changes.
venv() {
  local name="$1"; shift
  local dir="$TOOLS/venvs/$name" want="$*"
  if [ -f "$dir/.requirements" ] && [ "$(cat "$dir/.requirements")" = "$want" ]; then
    return 0
  fi
  say "installing $name: $want"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  printf '%s' "$want" > "$dir/.requirements"
}

# apt_install PACKAGE...: Debian packages, installed only when missing.
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
