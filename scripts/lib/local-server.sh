# Shared by setup-redis.sh and setup-prometheus.sh (sourced, not run): finding and starting a
# local server on a free 127.0.0.1 port. The caller sets DIR (the server's state folder, which
# holds its `url` file) and defines `start PORT`, which starts the server on PORT and returns 0
# once it answers there.

# The port of the URL in "$DIR/url".
url_port() { sed -E 's#.*:([0-9]+)/?$#\1#' "$DIR/url"; }

# Whether the server this checkout started still runs: "$DIR/url" and the pid file $1 exist,
# the pid is alive, and `$2 PORT` (a readiness check) passes on the URL's port.
still_running() {
  [ -f "$DIR/url" ] && [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && "$2" "$(url_port)"
}

# A port nothing listens on (bash's /dev/tcp connect fails); a server refuses to start if
# another process takes it in between, and then the next candidate is tried.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The ports to try: $1 if set (a port the user asked for), else 20 random ones.
candidate_ports() {
  if [ -n "$1" ]; then
    echo "$1"
  else
    for _ in $(seq 1 20); do echo $((20000 + RANDOM % 20000)); done
  fi
}

# Starts the server with `start` on the first free one of `candidate_ports $2` and sets `port`
# to it. When none works, says that `$1` (the setup script's name) could not start `$3` (the
# program), shows the log file $4, and exits 1.
start_on_a_free_port() {
  for port in $(candidate_ports "$2"); do
    port_free "$port" || continue
    if start "$port"; then return 0; fi
  done
  echo "$1: could not start $3 on 127.0.0.1; log:" >&2
  cat "$4" >&2 || true
  exit 1
}
