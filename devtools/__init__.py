"""Developer tools: embedded database, migrations, seed data, reconcile, the local API
(template.yaml served without Docker), single invocations and sample events."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "common"
# The shared layer is /opt/python in Lambda; locally the tools import it from its source.
if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))
