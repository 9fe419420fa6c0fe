-- 7: whether a merchant's accepted orders email their shoppers (the confirmation of a new order
-- and each status change). On by default, as before; the merchant switches it on the dashboard,
-- and `--order-emails off` stops these emails for every merchant whatever this says.
ALTER TABLE merchants ADD COLUMN order_emails INTEGER NOT NULL DEFAULT 1
    CHECK (order_emails IN (0, 1));
