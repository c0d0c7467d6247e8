"""Pushes one file as an artifact with oras-py (the ORAS project's Python
client) and pulls it back, logged in with the given credentials.

usage: oras_roundtrip.py HOST:PORT REPO:TAG USER PASSWORD basic|token FILE OUTDIR

Exit status 0 when the push and the pull both succeeded, 3 when the
registry refused (the message on stderr), anything else for a crash.
"""

import os
import sys

import oras.client
import oras.decorator

# oras-py retries a refused request five times, waiting up to 83 s between
# attempts; the tests want the refusal, not the waits.
oras.decorator.time.sleep = lambda seconds: None


def main():
    host, target, user, password, scheme, path, outdir = sys.argv[1:8]
    client = oras.client.OrasClient(hostname=host, insecure=True, auth_backend=scheme)
    # Credentials go to a file of this run's own, not ~/.docker/config.json
    # (which concurrent runs would share).
    client.login(
        username=user, password=password, hostname=host, config_path=os.path.abspath("docker-config.json")
    )
    reference = f"{host}/{target}"
    try:
        pushed = client.push(files=[path], target=reference, disable_path_validation=True)
    except Exception as e:  # oras-py raises plain exceptions for refusals
        print(f"push refused: {e}", file=sys.stderr)
        return 3
    if pushed.status_code != 201:
        print(f"push answered {pushed.status_code}: {pushed.text}", file=sys.stderr)
        return 3
    os.makedirs(outdir, exist_ok=True)
    try:
        files = client.pull(target=reference, outdir=outdir)
    except Exception as e:
        print(f"pull refused: {e}", file=sys.stderr)
        return 3
    print("\n".join(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
