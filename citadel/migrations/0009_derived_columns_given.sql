-- The update triggers that derive a product's search document and facet codes skip rows whose
-- statement says it computed both itself: the bulk upsert sets citadel.derived_columns to
-- 'given' (transaction-local) around its one statement. Before, they skipped only rows whose
-- derived value changed, so a bulk update that left a product's words or facets as they were
-- ran the PL/pgSQL trigger for every row anyway (the statement names those columns in its SET
-- list): 1.1 s of a 10,000-row update, computing values the statement had already written.
-- Every other write leaves the setting unset and keeps the triggers, as before.

DROP TRIGGER products_search_vector_update ON products;
DROP TRIGGER products_facet_codes_update ON products;

CREATE TRIGGER products_search_vector_update BEFORE UPDATE OF name, brand, tags, description, category_id
    ON products FOR EACH ROW
    WHEN (NEW.search_vector IS NOT DISTINCT FROM OLD.search_vector
          AND current_setting('citadel.derived_columns', true) IS DISTINCT FROM 'given')
    EXECUTE FUNCTION products_search_vector();
CREATE TRIGGER products_facet_codes_update BEFORE UPDATE OF category_id, vendor_id, attributes
    ON products FOR EACH ROW
    WHEN (NEW.facet_codes IS NOT DISTINCT FROM OLD.facet_codes
          AND current_setting('citadel.derived_columns', true) IS DISTINCT FROM 'given')
    EXECUTE FUNCTION products_facet_codes();
