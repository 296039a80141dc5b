"""QR labels: templates for label stock, and batches of labels rendered to one print-ready PDF.

No web framework or database here: the server resolves codes to names and calls ``render_pdf``.
See docs/labels.md.
"""

from labels import templates
from labels.model import Label, LabelError, RenderResult
from labels.render import render_pdf
from labels.templates import Template

__all__ = ["Label", "LabelError", "RenderResult", "Template", "render_pdf", "templates"]
