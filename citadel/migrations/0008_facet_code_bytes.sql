-- A product's facet codes become packed bytes: each code a 4-byte big-endian integer (int4send),
-- in the order the writers give them. A search counts the codes of all its matches; as an
-- integer array that meant one executor row per code (unnest, then a hash aggregate), about a
-- quarter of a search's time in PostgreSQL. Packed, the matches' codes are concatenated in one
-- aggregate and counted by the worker. facet_code_ids() reads them back as an array.

CREATE FUNCTION facet_code_ids(codes bytea) RETURNS integer[] LANGUAGE sql IMMUTABLE STRICT
PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg((get_byte(codes, i) << 24) | (get_byte(codes, i + 1) << 16)
                              | (get_byte(codes, i + 2) << 8) | get_byte(codes, i + 3) ORDER BY i),
                    '{}')
    FROM generate_series(0, length(codes) - 4, 4) AS i
$$;

DROP TRIGGER products_facet_codes_insert ON products;
DROP TRIGGER products_facet_codes_update ON products;

ALTER TABLE products ADD COLUMN facet_code_bytes bytea NOT NULL DEFAULT ''::bytea;
UPDATE products p
SET facet_code_bytes = (SELECT COALESCE(string_agg(int4send(u.code), ''::bytea ORDER BY u.n), ''::bytea)
                        FROM unnest(p.facet_codes) WITH ORDINALITY AS u (code, n))
WHERE cardinality(p.facet_codes) > 0;
ALTER TABLE products DROP COLUMN facet_codes;
ALTER TABLE products RENAME COLUMN facet_code_bytes TO facet_codes;

CREATE OR REPLACE FUNCTION products_facet_codes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.facet_codes := (
        SELECT COALESCE(string_agg(int4send(c.code), ''::bytea ORDER BY c.ord, c.code), ''::bytea)
        FROM (SELECT f.ord, facet_value_id(f.kind, f.key, f.value) AS code
              FROM (SELECT 1, 'category', NEW.category_id::text, '' WHERE NEW.category_id IS NOT NULL
                    UNION ALL SELECT 2, 'vendor', NEW.vendor_id::text, ''
                    UNION ALL SELECT 3, 'attribute', a.key, a.value FROM jsonb_each_text(NEW.attributes) a)
                   AS f (ord, kind, key, value)) c);
    RETURN NEW;
END;
$$;

CREATE TRIGGER products_facet_codes_insert BEFORE INSERT ON products
    FOR EACH ROW WHEN (length(NEW.facet_codes) = 0)
    EXECUTE FUNCTION products_facet_codes();
CREATE TRIGGER products_facet_codes_update BEFORE UPDATE OF category_id, vendor_id, attributes
    ON products FOR EACH ROW WHEN (NEW.facet_codes IS NOT DISTINCT FROM OLD.facet_codes)
    EXECUTE FUNCTION products_facet_codes();
