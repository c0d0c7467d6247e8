# Helpers the benchmark scripts share (sourced, not run).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits (up to 10 s) until a registry answers /v2/ on the port.
wait_port() { for _ in $(seq 1 400); do curl -s "http://127.0.0.1:$1/v2/" >/dev/null && return 0; sleep 0.025; done; return 1; }
now() { date +%s.%N; }
# MiB/s for MIB moved between two `now`s.
rate() { python3 -c "print(f'{$1 / ($3 - $2):.1f}')"; }
peak_rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
# Of it, in the kernel.
sys_s() { awk -v hz="$(getconf CLK_TCK)" '{ print $15 / hz }' "/proc/$1/stat"; }
# Starts an upload at http://127.0.0.1:PORT/v2/REPO and prints its absolute URL.
upload_url() {
  local location
  location=$(curl -sf -D - -o /dev/null -X POST "http://127.0.0.1:$1/v2/$2/blobs/uploads/" \
    | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
  case "$location" in /*) location="http://127.0.0.1:$1$location" ;; esac
  printf '%s' "$location"
}
# Installs the Debian packages named that are missing.
apt_need() {
  local need=() tool
  for tool in "$@"; do command -v "$tool" >/dev/null || need+=("$tool"); done
  [ ${#need[@]} -gt 0 ] || return 0
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
}
