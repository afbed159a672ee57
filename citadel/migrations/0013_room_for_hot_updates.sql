-- Room on each page for new versions of the rows that change most, as products already have
-- (0005): a stock row changes with every checkout, payment, shipment and stock call, a variant
-- with every price call, an aggregate's event sequence with every event about it. None of those
-- changes touches an index of its table, so with free space on the page an update stays there
-- (a HOT update) instead of adding an entry to each index; without it every one moved the row
-- (seen: 0 of 10,000 stock updates and 42 of 40,000 variant updates were HOT). Applies to pages
-- written from now on.
ALTER TABLE stock SET (fillfactor = 70);
ALTER TABLE product_variants SET (fillfactor = 85);
ALTER TABLE event_sequences SET (fillfactor = 70);
