"""The page ``dvc plots show`` fills, with Vega carried inside it, so that the curves render offline.

DVC's own page loads vega, vega-lite and vega-embed from a CDN when it is opened: without a network
only the pictures show. ``make install`` runs ``python -m pyext.plots_page OUT``: it fetches the
versions DVC's page names from the npm registry with npm's own client (``npm pack``; each package
checked against its published sha512), writes
``OUT`` (an HTML template with the three scripts inline, and pictures never wider than the page)
and points DVC at it (``dvc config --local plots.html_template OUT``, kept in ``.dvc/config.local``).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# name -> (version, script in the package, the registry's sha512 of the package): the versions
# dvc-render's page loads (dvc_render/vega.py), so its specs render the same.
SCRIPTS = {
    "vega": ("5.20.2", "build/vega.min.js",
             "qmH7aD9GGPpssVdxL1xgcdxTbQzyRUeRR16Os385ymvQhiwCYQNA6+eXUPAZDTVLfk0RXu6Jzj6kUE5jQ80EVw=="),
    "vega-lite": ("5.2.0", "build/vega-lite.min.js",
                  "Yxcg8MvYfxHcG6BbkaKT0oVCIMIcE19UvqIsEwBmyd/7h2nzW7oRnID81T8UrY7hpDrIr6wa2JADOT2dhGNErw=="),
    "vega-embed": ("6.18.2", "build/vega-embed.min.js",
                   "wcDyQPE4J5aiCDc3/suH5RQDvrKkjuLkhzUcbOLwEkNF8/+pp17tS0JghzEvAPNRg+5aG1/N2ydixq8Lk3dOlg=="),
}

# DVC fills {plot_divs} (and {refresh_tag}); {scripts}, where DVC would put its CDN tags, is left out.
_PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- vega, vega-lite and vega-embed, inline: the page needs no network -->
SCRIPTS
    <style>
        table { border-spacing: 15px; }
        img { max-width: calc(100vw - 60px); height: auto; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>"""


def fetch(name: str) -> str:
    """The script of package ``name`` (:data:`SCRIPTS`) from the npm registry, its package checked.

    Raises:
        OSError: npm is not installed or cannot fetch the package.
        ValueError: the package is not the one published.
    """
    version, member, sha512 = SCRIPTS[name]
    npm = shutil.which("npm")
    if npm is None:
        raise OSError("npm is not installed")
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([npm, "pack", "--silent", "--pack-destination", folder, f"{name}@{version}"],
                              capture_output=True, text=True, timeout=300)
        packed = sorted(Path(folder).glob("*.tgz"))
        if done.returncode or not packed:
            raise OSError(f"npm pack {name}@{version} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
        package = packed[0].read_bytes()
    if base64.b64encode(hashlib.sha512(package).digest()).decode() != sha512:
        raise ValueError(f"{name}@{version}: the package fetched is not the one published (sha512 differs)")
    with tarfile.open(fileobj=io.BytesIO(package)) as tar:
        return tar.extractfile(f"package/{member}").read().decode("utf-8")


def page(scripts: dict[str, str]) -> str:
    """The HTML template with ``scripts`` (name -> JavaScript, in :data:`SCRIPTS`' order) inline.

    Example:
        >>> "{plot_divs}" in page({"vega": "var vega = {};"})
        True
    """
    # "</script" inside a script would end its tag early; "<\\/script" is the same string to JavaScript.
    escaped = (source.replace("</script", "<\\/script") for source in scripts.values())
    tags = "\n".join(f"    <script>{source}</script>" for source in escaped)
    return _PAGE.replace("SCRIPTS", tags, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the HTML template to write")
    parser.add_argument("--no-config", action="store_true", help="do not point DVC at it")
    args = parser.parse_args(argv)
    try:
        scripts = {name: fetch(name) for name in SCRIPTS}
    except (OSError, ValueError) as exc:
        print(f"plots_page: {exc}; `dvc plots show` keeps DVC's page, whose curves need a network",
              file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page(scripts), encoding="utf-8")
    if not args.no_config:
        subprocess.run([sys.executable, "-m", "dvc", "config", "--local", "plots.html_template", str(args.out.resolve())], check=True)
    print(f"plots_page: {args.out} (vega, vega-lite, vega-embed inline); `dvc plots show` uses it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
