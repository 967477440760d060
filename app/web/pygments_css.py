"""Print the highlighting style sheet: ``python -m app.web.pygments_css > static/css/pygments.css``.

The output is committed; ``tests/web/test_highlight.py`` fails when it no longer matches ``highlight.py``.
"""
import sys

from .highlight import stylesheet

if __name__ == "__main__":
    sys.stdout.write(stylesheet())
