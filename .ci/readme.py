#!/usr/bin/env python
"""Build README.md from nbs/index.ipynb (nbdev_readme needs Quarto, which cannot be installed here); pictures that
the notebook shows from nbs/images/ are linked from the repository root.

    python .ci/readme.py          # write README.md
    python .ci/readme.py --check  # exit 1 if README.md differs from what index.ipynb gives
    python .ci/readme.py --command demo|test  # print one of the two Quick start commands, verbatim
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = '<!-- Generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, not this file. -->\n\n'

def _flags(src): return {l[3:].strip() for l in src.splitlines() if l.startswith('#| ')}

def _outputs(cell):
    parts = []
    for o in cell.get('outputs', []):
        data = o.get('data', {})
        if 'text/markdown' in data: parts.append(''.join(data['text/markdown']))
        elif o.get('output_type') == 'stream': parts.append('```\n' + ''.join(o['text']).rstrip() + '\n```')
        elif 'text/plain' in data: parts.append('```\n' + ''.join(data['text/plain']).rstrip() + '\n```')
    return parts

def render(nb_path=ROOT / 'nbs' / 'index.ipynb') -> str:
    nb = json.loads(Path(nb_path).read_text(encoding='utf-8'))
    parts = []
    for cell in nb['cells']:
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown': parts.append(src.strip().replace('](images/', '](nbs/images/')); continue
        flags = _flags(src)
        if 'hide' in flags: continue
        code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
        if code and 'hide_input' not in flags and 'echo: false' not in flags: parts.append('```python\n' + code + '\n```')
        parts += _outputs(cell)
    return HEADER + '\n\n'.join(p for p in parts if p) + '\n'

def quick_start_commands(readme=ROOT / 'README.md') -> list:
    "The one-line commands of the fenced bash blocks in the README's Quick start section, in order."
    text = Path(readme).read_text(encoding='utf-8')
    section = text.split('## Quick start', 1)[1].split('\n## ', 1)[0]
    return [b.split('\n', 1)[1].strip() for b in section.split('```bash')[1:] for b in [b.split('```')[0]]]

if __name__ == '__main__':
    if '--command' in sys.argv:
        demo, test = quick_start_commands()
        print(demo if sys.argv[-1] == 'demo' else test); sys.exit(0)
    readme, text = ROOT / 'README.md', render()
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md differs from nbs/index.ipynb: run `python .ci/readme.py` and commit both')
        print('README.md matches nbs/index.ipynb')
    else:
        readme.write_text(text, encoding='utf-8'); print('wrote README.md')
