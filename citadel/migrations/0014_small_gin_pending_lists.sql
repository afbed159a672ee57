-- The catalog's GIN indexes (search words, tags, attributes) queue new entries in a pending list
-- that every query using the index reads through until it is merged (by VACUUM, or by an insert
-- that finds the list past its limit, 4 MB by default). Two vendor bulk calls of 10,000 products
-- left 1.6 MB in it, and the benchmark's 50 searches took 6.1-6.7 ms each (serial) instead of
-- 3.0-3.9 once it was merged, until autovacuum would come by. With a 256 kB limit the inserts
-- merge as they go: the bulk calls took as long (merging 10,000 products' entries costs about
-- 35 ms) and searches keep their speed.
ALTER INDEX products_search_idx SET (gin_pending_list_limit = 256);
ALTER INDEX products_tags_idx SET (gin_pending_list_limit = 256);
ALTER INDEX products_attributes_idx SET (gin_pending_list_limit = 256);
