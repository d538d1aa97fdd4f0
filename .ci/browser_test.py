#!/usr/bin/env python
"""The notebooks as a student meets them: JupyterLab in a real browser (Debian's chromium, driven by playwright).

For each quick notebook: open it in JupyterLab, Run All, wait until every cell has run, save, and fail on any error
output or any cell that did not run. In 01_viz, type a new slice into the live viewer's slider and check that the
picture changed and is shown at its natural size. Screenshots land in .ci/screenshots/ (git-ignored).

The notebooks run on a copy in a temporary folder, so Run All never writes outputs into the repository.

    python .ci/browser_test.py                  # the quick notebooks
    python .ci/browser_test.py 13_losses 22_infer
"""
import json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / ".ci" / "screenshots"
QUICK = ["01_viz", "06_loader", "11_vae", "20_metrics"]
CHROMIUM = "/usr/bin/chromium"
TOKEN = "brats-repro-ci"
VISIBLE = ".jp-NotebookPanel:not(.lm-mod-hidden)"   # the notebook in the active tab
RUN_LIMIT_S = int(os.environ.get("RUN_LIMIT_S", 300))         # per notebook


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def lab_settings(folder: Path) -> Path:
    "User settings for the test: render every cell (no windowing), no news or update pop-ups."
    put = lambda rel, d: (folder / rel).parent.mkdir(parents=True, exist_ok=True) or (folder / rel).write_text(json.dumps(d))
    put("@jupyterlab/notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none"})
    put("@jupyterlab/apputils-extension/notification.jupyterlab-settings", {"fetchNews": "false", "checkForUpdates": False})
    return folder


def start_lab(root_dir: Path, settings: Path, port: int, log) -> subprocess.Popen:
    "JupyterLab on `root_dir` with the test's settings and its own empty workspaces folder."
    # no tabs restored from an earlier session: a stale ~/.jupyter workspace once reopened four notebooks in the
    # test's browser, and Run All went to one of them instead of the notebook under test
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), MPLBACKEND="module://matplotlib_inline.backend_inline")
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root_dir}", "--LabApp.news_url=None",
           f"--LabApp.workspaces_dir={settings.parent / 'workspaces'}", "--LabApp.expose_app_in_browser=True",
           "--allow-root"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None: raise SystemExit(f"JupyterLab exited with {proc.returncode}: see {log.name}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", timeout=2); return proc
        except OSError: time.sleep(0.5)
    raise SystemExit(f"JupyterLab did not answer on port {port} within 90 s: see {log.name}")


def shutdown_kernels(port: int):
    "Stop every kernel of the server (the REST API, as the Running panel does), so each notebook starts fresh."
    api = f"http://127.0.0.1:{port}/api/kernels"
    for k in json.load(urllib.request.urlopen(f"{api}?token={TOKEN}")):
        urllib.request.urlopen(urllib.request.Request(f"{api}/{k['id']}?token={TOKEN}", method="DELETE"))


def prompts(page) -> list[str]:
    return page.eval_on_selector_all(f"{VISIBLE} .jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent.trim())")


def command(page, cmd: str, wait: bool = True):
    "Execute a JupyterLab command, as its menu item does (the app is exposed to the page for the test)."
    page.evaluate("([cmd, wait]) => { const p = window.jupyterapp.commands.execute(cmd); if (wait) return p; }",
                  [cmd, wait])


def wait_kernel_idle(page):
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                           "window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel?.status === 'idle'",
                           timeout=120_000)


def run_all(page, base: str, name: str) -> float:
    "Open `name`, Run All from the Run menu, wait until no cell is queued or running; seconds taken."
    page.goto(f"{base}/lab/tree/{name}.ipynb?token={TOKEN}&reset")   # reset: only this notebook, no restored tabs
    page.wait_for_selector(f"{VISIBLE} .jp-CodeCell", timeout=60_000)
    wait_kernel_idle(page)
    t0 = time.time()
    command(page, "notebook:run-all-cells", wait=False)   # the Run menu's "Run All Cells"
    while time.time() - t0 < RUN_LIMIT_S:
        p = prompts(page)
        ran = [x for x in p if any(ch.isdigit() for ch in x)]
        if not any("*" in x for x in p) and (len(ran) == len(p) or page.locator(
                f"{VISIBLE} [data-mime-type='application/vnd.jupyter.stderr']").count() and ran):
            return time.time() - t0
        page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / f"{name}_timeout.png"))
    raise SystemExit(f"{name}: Run All did not finish within {RUN_LIMIT_S} s; prompts: {prompts(page)}")


def save(page):
    command(page, "docmanager:save")
    page.wait_for_timeout(1500)


def problems(nb_path: Path) -> list[str]:
    "Error outputs, tracebacks on stderr and cells that never ran, from the saved notebook."
    out = []
    for i, cell in enumerate(json.loads(nb_path.read_text())["cells"]):
        if cell["cell_type"] != "code" or not "".join(cell["source"]).strip(): continue
        if cell.get("execution_count") is None: out.append(f"cell {i} did not run")
        for o in cell.get("outputs", []):
            if o["output_type"] == "error": out.append(f"cell {i}: {o['ename']}: {o['evalue'][:200]}")
            if o["output_type"] == "stream" and o["name"] == "stderr" and "Traceback" in "".join(o["text"]):
                out.append(f"cell {i}: traceback on stderr")
    return out


def check_viewer(page) -> str:
    "Type a new slice into the live viewer's slider; the picture must change and be shown at its natural size."
    slider = page.locator(f"{VISIBLE} .widget-slider").last
    slider.scroll_into_view_if_needed()
    img = page.locator(f"{VISIBLE} img.widget-image").last
    img.wait_for(timeout=30_000)
    natural, shown = img.evaluate("e => [e.naturalWidth, e.getBoundingClientRect().width]")
    if shown > natural + 1: raise SystemExit(f"01_viz: viewer picture stretched from {natural} to {shown:.0f} px")
    before_src, before_png = img.get_attribute("src"), img.screenshot(path=str(SHOTS / "01_viz_viewer_before.png"))
    readout = slider.locator(".widget-readout")
    old = readout.inner_text().strip()
    new = "3" if old != "3" else "5"
    readout.click(); page.keyboard.press("Control+a"); page.keyboard.type(new); page.keyboard.press("Enter")
    page.wait_for_function("([el, src]) => el.getAttribute('src') !== src", arg=[img.element_handle(), before_src],
                           timeout=30_000)
    page.wait_for_timeout(500)
    after_png = img.screenshot(path=str(SHOTS / "01_viz_viewer_after.png"))
    if after_png == before_png: raise SystemExit("01_viz: the viewer's picture did not change after the slider moved")
    return f"slider {old} -> {readout.inner_text().strip()}, picture changed, shown at {shown:.0f} px (natural {natural})"


def main(names: list[str]) -> int:
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="brats_repro_lab_"))
    work = tmp / "nbs"; shutil.copytree(ROOT / "nbs", work)
    port, failed = free_port(), 0
    log = open(tmp / "jupyterlab.log", "w")
    lab = start_lab(work, lab_settings(tmp / "settings"), port, log)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for name in names:
                took = run_all(page, f"http://127.0.0.1:{port}", name)
                save(page)
                page.screenshot(path=str(SHOTS / f"{name}.png"))
                found = problems(work / f"{name}.ipynb")
                extra = check_viewer(page) if name == "01_viz" and not found else ""
                print(f"{name}: Run All in {took:.1f} s, {'FAILED: ' + '; '.join(found) if found else 'no errors'}"
                      + (f"; viewer: {extra}" if extra else ""), flush=True)
                failed += bool(found)
                shutdown_kernels(port)
                command(page, "application:close-all")
            browser.close()
    finally:
        os.killpg(lab.pid, 15); lab.wait(timeout=30); log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"browser: {len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or QUICK))
