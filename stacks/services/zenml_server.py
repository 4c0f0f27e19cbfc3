"""ZenML's server application under uvicorn, for a machine without internet access.

    python -m stacks.services.zenml_server --host 127.0.0.1 --port 8380

The server compares the request's and its own domain through ``tldextract``, which downloads
the public-suffix list from GitHub on each use until one download succeeds. Offline, every
dashboard request then waited for that download to fail (a login took over a minute). Here
``tldextract.extract`` uses the list that ships with the package and never goes online; the
server is otherwise ZenML's own (``zenml.zen_server.zen_server_api:app``), configured by the
``ZENML_*`` variables that ``control.py`` sets.
"""

from __future__ import annotations

import argparse

import tldextract
import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    uvicorn.run("zenml.zen_server.zen_server_api:app", host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
