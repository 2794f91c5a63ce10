"""``deocclude serve``: a local web page to drop a photo on and see what the pipeline did.

Built on the standard library (:mod:`http.server`) and one hand-written HTML page with plain
JavaScript, not on Gradio. Why: measured on our 2-core CI machine, Gradio 6.31 (its 56
packages, 367 MB) adds 92-98 s to ``tools/setup.sh`` (which takes 105 s for everything else,
torch included), with a warm pip cache too, and ``import gradio`` alone takes about 10 s
before the page is up; its offline behaviour was fine (no request left the machine). The
page needs one upload and a few pictures, which ``http.server`` serves with no dependency,
starts in well under a second on top of the models, and leaves nothing that can reach the
network: every asset is inline and a Content-Security-Policy forbids any other origin.
"""

from deocclude.web.app import WebApp, make_server

__all__ = ["WebApp", "make_server"]
