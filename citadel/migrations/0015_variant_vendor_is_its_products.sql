-- A variant carries its product's vendor (vendor-scoped reads and the key of its SKU, (vendor,
-- sku), rely on it), and nothing held the two together: a variant could name another vendor than
-- its product's. One foreign key on (product, vendor) now says both that its product exists and
-- that the vendor is the product's (whose own key says the vendor exists), where two keys, one
-- lookup each, checked less.
ALTER TABLE products ADD CONSTRAINT products_id_vendor_key UNIQUE (id, vendor_id);
ALTER TABLE product_variants
    ADD CONSTRAINT product_variants_product_vendor_fkey FOREIGN KEY (product_id, vendor_id)
        REFERENCES products (id, vendor_id) ON DELETE CASCADE NOT VALID;
ALTER TABLE product_variants VALIDATE CONSTRAINT product_variants_product_vendor_fkey;
ALTER TABLE product_variants DROP CONSTRAINT product_variants_product_id_fkey;
ALTER TABLE product_variants DROP CONSTRAINT product_variants_vendor_id_fkey;
