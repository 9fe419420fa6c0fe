BODY='{"customer_details":{"name":"John Doe","email":"john@example.com","phone":"+2348123456789"},"item_summary":"iPhone 15 x2","address":"123 Main St, Lagos","tracking_status":"PENDING"}'
ID="msg_$(openssl rand -hex 12)"; TS=$(date +%s)
KEY=$(printf '%s' "${HOOKGATE_SECRET#whsec_}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
SIG=$(printf '%s' "$ID.$TS.$BODY" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY -binary | base64)
curl -sS -X POST {{ url }} \
  -H "X-API-Key: {{ key_id }}" -H "webhook-id: $ID" -H "webhook-timestamp: $TS" \
  -H "webhook-signature: v1,$SIG" -H "Content-Type: application/json" -d "$BODY"
