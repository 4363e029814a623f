"""Sphinx configuration of the course website (built by ``scripts/build_site.py``).

The pages are the executed notebooks as they are committed: myst-nb renders their stored
outputs and never runs a cell. Everything a page needs is in the site folder (MathJax from
the ``sphinx-mathjax-offline`` package, the theme's styles, scripts and fonts), so the site
reads the same opened from disk or served with no network.
"""

project = "course_vae"
html_title = "course_vae"
author = "course_vae authors"
language = "en"

extensions = [
    "myst_nb",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax/, no CDN
]

# the stored outputs are the truth: never execute
nb_execution_mode = "off"
nb_merge_streams = True
# no widget-manager JavaScript (it would come from a CDN); build_site.py replaces each
# explorer's live view with its stored picture and readout
nb_ipywidgets_js = {}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_dmath_double_inline = True  # "... objective, $$ ... $$, what it does ..." in README prose
myst_heading_anchors = 3
suppress_warnings = ["misc.highlighting_failure"]

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
}
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_js_files = ["course.js"]
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_context = {"default_mode": "auto"}  # light or dark as the reader's system says
