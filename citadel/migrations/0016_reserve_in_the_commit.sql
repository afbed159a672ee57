-- A checkout's last write takes its holds' units on their stock rows, which stay locked until the
-- commit. Sent as its own statement, a row was locked for a round trip to the API and back (and
-- the wait for the API's event loop under load) before the COMMIT could even be sent: with every
-- buyer after one SKU, that wait was the throughput. Checkout now sends this function's call and
-- its COMMIT together (one simple-query message, no parameters): the row is locked for the
-- update and the commit's flush only.
--
-- The order is the one the transaction's placing statement named in the transaction-local
-- setting citadel.placed_order. Its holds are taken on their rows one by one, in primary-key
-- order (the order every writer of stock locks in), where that leaves the row above zero and
-- above its low-stock threshold, as a plan made from rows read without their locks must (nothing
-- to announce). When a row no longer allows it, the function raises SQLSTATE CB409 ("stock
-- moved"): the COMMIT sent with it is not run, and checkout rolls back and plans again under the
-- rows' locks.
CREATE FUNCTION reserve_placed_holds() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    placed uuid := current_setting('citadel.placed_order')::uuid;
    part record;
BEGIN
    FOR part IN
        SELECT variant_id, warehouse_id, quantity FROM stock_holds
        WHERE order_id = placed
        ORDER BY variant_id, warehouse_id
    LOOP
        UPDATE stock s SET reserved = s.reserved + part.quantity, updated_at = now()
        WHERE s.variant_id = part.variant_id AND s.warehouse_id = part.warehouse_id
          AND s.on_hand - s.reserved - part.quantity >= greatest(s.low_stock_threshold, 0) + 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'stock moved: the stock row of variant % in warehouse % no longer allows a hold of %',
                part.variant_id, part.warehouse_id, part.quantity
                USING ERRCODE = 'CB409';
        END IF;
    END LOOP;
END
$$;
