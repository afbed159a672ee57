-- A paid order's units stay reserved until its fulfilment ships. Capturing a payment turns the
-- order's holds into allocations without touching its stock rows (paying never waits for a stock
-- row, and never makes a checkout of the same SKU wait for it); the units leave on hand and
-- reserved together when their fulfilment ships, as a ledger row of reason 'shipped'. On hand is
-- what is in the warehouse; reserved is what is promised to orders not yet shipped.
--
-- Holds allocated before this migration had their units taken off the shelf when the payment was
-- captured: they are marked shipped, the state in which that has happened, so that shipping them
-- does not take the units twice and a cancellation or a refund puts them back on the shelf.
ALTER TABLE stock_holds DROP CONSTRAINT stock_holds_status_check;
ALTER TABLE stock_holds ADD CONSTRAINT stock_holds_status_check
    CHECK (status IN ('held', 'allocated', 'shipped', 'released'));
UPDATE stock_holds SET status = 'shipped', updated_at = now() WHERE status = 'allocated';
