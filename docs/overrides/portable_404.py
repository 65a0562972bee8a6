"""mkdocs hook: the 404 page's stylesheets and scripts are written once the site's root is known.

docs/overrides/404.html makes every link of the page relative and sets ``<base href>`` to the
site's root when the page loads. A stylesheet or script written in the page as it is would be
fetched before that, by the browser's look-ahead, from the folder of the missing address (a
failed request per file). Here each is replaced by a one-line script that writes it after the
``<base>``, and Material's configuration gets the root as its base (Material resolves it against
the address, not the ``<base>``: writeFromRoot does it), so search works on the 404 page too.
"""

from __future__ import annotations

import json
import re
from typing import Any

RESOURCE = re.compile(
    r'<link\b[^>]*\bhref="\./[^"]*"[^>]*>|<script\b[^>]*\bsrc="\./[^"]*"[^>]*>\s*</script>'
)
WRITE = "<script>writeFromRoot({tag})</script>"  # writeFromRoot: defined in 404.html


def on_post_template(output: str, template_name: str, config: Any) -> str:
    if template_name != "404.html":
        return output

    def deferred(match: re.Match[str]) -> str:
        tag = json.dumps(match.group(0)).replace("</", "<\\/")
        return WRITE.format(tag=tag)

    return RESOURCE.sub(deferred, output)
