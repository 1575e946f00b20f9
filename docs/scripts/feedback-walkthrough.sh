#!/usr/bin/env bash
# The issue's "done when", as a new user: dev server, MRI order, accept removal, override another, report.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LBP_CDS_DATA_DIR=${LBP_CDS_DATA_DIR:-$(mktemp -d)} LBP_CDS_ADMIN_TOKEN=quality-unit-token-0123456789
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
.venv/bin/python -m service --port $PORT >"$LBP_CDS_DATA_DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER' EXIT
for i in $(seq 50); do curl -sf $BASE/cds-services >/dev/null && break; sleep 0.2; done
call() {
  python3 -c 'import json,sys,uuid; b=json.load(open("docs/requests/order-select-mri-3-weeks.json")); b["hookInstance"]=str(uuid.uuid4()); print(json.dumps(b))' > "$LBP_CDS_DATA_DIR/req.json"
  curl -s -H "Authorization: Bearer $(.venv/bin/python -m service token --aud $BASE/cds-services/lbp-order-select)" \
    -H 'Content-Type: application/json' --data @"$LBP_CDS_DATA_DIR/req.json" $BASE/cds-services/lbp-order-select
}
feedback() {
  curl -s -H "Authorization: Bearer $(.venv/bin/python -m service token --aud $BASE/cds-services/lbp-order-select/feedback)" \
    -H 'Content-Type: application/json' --data "$1" $BASE/cds-services/lbp-order-select/feedback; echo
}
echo '$ # 1. order a lumbar MRI on a 3-week back pain; accept "Fjern ordinationen" (remove the order)'
FIRST=$(call)
echo "$FIRST" | python3 -c 'import json,sys; c=json.load(sys.stdin)["cards"][0]; print(c["summary"]); print([s["label"] for s in c["suggestions"]])'
BODY=$(echo "$FIRST" | python3 -c 'import json,sys; c=json.load(sys.stdin)["cards"][0]; s=next(s for s in c["suggestions"] if [a["type"] for a in s["actions"]]==["delete"]); print(json.dumps({"feedback":[{"card":c["uuid"],"outcome":"accepted","acceptedSuggestions":[{"id":s["uuid"]}],"outcomeTimestamp":"2026-11-23T09:00:00Z"}]}))')
feedback "$BODY"
echo '$ # 2. the same order in another consultation (a new hookInstance, so a new card): override that card with a reason and a comment'
SECOND=$(call)
BODY=$(echo "$SECOND" | python3 -c 'import json,sys; c=json.load(sys.stdin)["cards"][0]; r=c["overrideReasons"][0]; print(r); print(json.dumps({"feedback":[{"card":c["uuid"],"outcome":"overridden","overrideReason":{"reason":r,"userComment":"Patienten ønsker MR nu"},"outcomeTimestamp":"2026-11-23T09:05:00Z"}]}))')
echo "$BODY" | head -1
feedback "$(echo "$BODY" | tail -1)"
echo '$ python -m service report'
.venv/bin/python -m service report 2>/dev/null
echo '$ python -m service report --format csv'
.venv/bin/python -m service report --format csv 2>/dev/null
echo "$ curl -s -H 'Authorization: Bearer \$LBP_CDS_ADMIN_TOKEN' $BASE/admin/report | jq .totals"
curl -s -H "Authorization: Bearer $LBP_CDS_ADMIN_TOKEN" $BASE/admin/report | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["totals"], indent=2))'
echo "$ curl -s -o /dev/null -w '%{http_code}\n' $BASE/admin/   # no token"
curl -s -o /dev/null -w '%{http_code}\n' $BASE/admin/
.venv/bin/python - "$BASE" "$LBP_CDS_ADMIN_TOKEN" "${SHOT:-/tmp/admin.png}" <<'PY'
import sys
from playwright.sync_api import sync_playwright
base, token, shot = sys.argv[1:4]
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = b.new_context(http_credentials={"username": "q", "password": token}, viewport={"width": 1200, "height": 1400}).new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/admin/?lang=en")
    page.wait_for_selector("canvas[data-drawn=true]#chart_reasons")
    print("$ # /admin/ in headless Chromium (English):")
    print("  figures:", {k: page.inner_text(f"[data-figure={k}]") for k in ("issued", "accepted", "overridden", "imaging_removals_accepted")})
    print("  table row:", page.inner_text("tbody tr").replace("\t", " | "))
    print("  comments:", page.inner_text("ul.comments"))
    print("  charts drawn:", page.eval_on_selector_all("canvas[data-drawn=true]", "cs => cs.map(c => c.id)"), "console errors:", errors)
    page.screenshot(path=shot, full_page=True)
    b.close()
PY
