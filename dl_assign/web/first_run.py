"""A newcomer's first minutes, measured: store the ready model, serve, open the page, upload a photo.

``python -m dl_assign.web.first_run [--store DIR] [--photo FILE]`` runs the README's "First five
minutes" steps as a person would, with the real commands (``dl-assign pretrained``, ``dl-assign
serve`` in a child process on a free loopback port) and the page in headless Chromium, and prints
the wall time of each step and the class the page showed. The test suite runs the same function
(tests/test_web.py). The server is always stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dl_assign.web.server import LOOPBACK, free_port
from dl_assign.web.shots import browser_missing, chromium_path


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "dl-assign"
    return [str(script)] if script.exists() else [sys.executable, "-c", "import sys; from dl_assign.cli import "
                                                                        "main; sys.exit(main())"]


def sample_photo(out_dir: Path) -> Path:
    """skimage's photo of a cat (chelsea), as a JPEG: an ordinary photo no model here was trained on."""
    from PIL import Image
    from skimage import data

    path = out_dir / "chelsea.jpg"
    Image.fromarray(data.chelsea()).save(path, "JPEG", quality=92)
    return path


def measure(store_root: str | Path, photo: Path | None = None, *, timeout: float = 120.0) -> dict:
    """Run the steps; returns ``{"steps": [{step, command, seconds}], "page_class", "probability", ...}``."""
    import httpx
    from playwright.sync_api import sync_playwright

    why = browser_missing()
    if why:
        raise RuntimeError(why)
    store_root = Path(store_root)
    env = os.environ | {"DL_ASSIGN_MODELS": str(store_root)}
    steps = []
    with tempfile.TemporaryDirectory() as tmp:
        photo = photo or sample_photo(Path(tmp))
        t0 = time.perf_counter()
        done = subprocess.run([*_cli(), "pretrained"], env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"dl-assign pretrained failed ({done.returncode}): {done.stderr.strip()}")
        steps.append({"step": "store the ImageNet model", "command": "dl-assign pretrained",
                      "seconds": time.perf_counter() - t0, "said": done.stdout.strip().splitlines()[-1:]})
        port = free_port()
        url = f"http://{LOOPBACK}:{port}"
        t0 = time.perf_counter()
        server = subprocess.Popen([*_cli(), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        try:
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"dl-assign serve exited with {server.returncode}: {server.stderr.read()}")
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - t0 > timeout:
                    raise RuntimeError(f"dl-assign serve did not answer on {url} within {timeout:.0f} s")
                time.sleep(0.05)
            steps.append({"step": "start the server", "command": "dl-assign serve",
                          "seconds": time.perf_counter() - t0})
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                             args=["--no-sandbox", "--disable-gpu",
                                                   "--disable-background-networking"])
                try:
                    page = browser.new_page(viewport={"width": 1180, "height": 760})
                    t0 = time.perf_counter()
                    page.goto(url + "/")
                    page.wait_for_function("document.querySelectorAll('#models option').length > 0",
                                           timeout=timeout * 1000)
                    steps.append({"step": "open the page", "command": url, "seconds": time.perf_counter() - t0})
                    t0 = time.perf_counter()
                    page.set_input_files("#file", str(photo))
                    page.click("#predict")
                    page.wait_for_selector("#results .card.done, #results .card.failed", timeout=timeout * 1000)
                    steps.append({"step": "upload a photo and predict", "command": f"{photo.name}, Predict",
                                  "seconds": time.perf_counter() - t0})
                    card = page.locator("#results .card").first
                    failed = card.evaluate("e => e.classList.contains('failed')")
                    result = {"page_class": card.locator(".pred").inner_text().strip() if not failed else None,
                              "page_error": card.inner_text().strip() if failed else "",
                              "model": page.eval_on_selector("#models option", "e => e.value")}
                finally:
                    browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return {"steps": steps, **result, "photo": str(photo), "store": str(store_root)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dl_assign.web.first_run", description=__doc__.splitlines()[0])
    p.add_argument("--store", default=None, help="model store (default: a new temporary one, as on a fresh clone)")
    p.add_argument("--photo", type=Path, default=None, help="the photo to upload (default: skimage's cat)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = measure(args.store or Path(tmp) / "models", args.photo)
    for s in out["steps"]:
        print(f"{s['step']:30s} {s['seconds']:7.2f} s   {s['command']}")
    print(f"the page showed: {out['page_class'] or out['page_error']} (model {out['model']})")
    return 0 if out["page_class"] else 1


if __name__ == "__main__":
    sys.exit(main())
