const crypto = require("node:crypto");
const body = JSON.stringify({ customer_details: { name: "John Doe", email: "john@example.com",
  phone: "+2348123456789" }, item_summary: "iPhone 15 x2", address: "123 Main St, Lagos",
  tracking_status: "PENDING" });
const id = `msg_${crypto.randomUUID()}`, ts = Math.floor(Date.now() / 1000);
const key = Buffer.from(process.env.HOOKGATE_SECRET.split("_")[1], "base64");
const sig = crypto.createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64");
fetch("{{ url }}", { method: "POST", body, headers: { "X-API-Key": "{{ key_id }}",
  "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": `v1,${sig}`,
  "Content-Type": "application/json" } }).then(r => r.text()).then(console.log);
