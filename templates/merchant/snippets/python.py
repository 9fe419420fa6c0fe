import json, os, time, uuid, datetime, urllib.request
from standardwebhooks.webhooks import Webhook

body = json.dumps({"customer_details": {"name": "John Doe", "email": "john@example.com",
        "phone": "+2348123456789"}, "item_summary": "iPhone 15 x2",
        "address": "123 Main St, Lagos", "tracking_status": "PENDING"})
msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.datetime.now(tz=datetime.timezone.utc)
signature = Webhook(os.environ["HOOKGATE_SECRET"]).sign(msg_id, now, body)
request = urllib.request.Request("{{ url }}", data=body.encode(), method="POST", headers={
    "X-API-Key": "{{ key_id }}", "webhook-id": msg_id,
    "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature,
    "Content-Type": "application/json"})
print(urllib.request.urlopen(request).read().decode())
