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

# free_ports N: prints N distinct TCP ports of 127.0.0.1 that were free a moment ago, one a line.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in held))
PY
}

# wait_for_port PORT SECONDS WHAT [PID]: waits until something accepts TCP connections on
# 127.0.0.1:PORT; fails after SECONDS, or at once when process PID (the server) has exited.
wait_for_port() {
  local port="$1" seconds="$2" what="$3" pid="${4:-}" deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "$what exited before it listened on 127.0.0.1:$port" >&2; return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$what did not listen on 127.0.0.1:$port within ${seconds}s" >&2; return 1
    fi
    sleep 0.1
  done
}
