-- Catalog: vendors (the minimal table the vendors work extends), categories, products and their
-- variants, warehouses and stock (one ledger), and what search keeps: the typo dictionary and
-- query statistics.

-- Vendors ----------------------------------------------------------------------------------------

CREATE TABLE vendors (
    id             uuid PRIMARY KEY,
    owner_user_id  uuid NOT NULL REFERENCES users (id),
    name           text NOT NULL,
    slug           text NOT NULL,
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'active', 'suspended', 'rejected')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX vendors_owner_key ON vendors (owner_user_id);
CREATE UNIQUE INDEX vendors_slug_key ON vendors (slug);

-- Categories -------------------------------------------------------------------------------------

CREATE TABLE categories (
    id           uuid PRIMARY KEY,
    parent_id    uuid REFERENCES categories (id),
    -- ancestors from the root, then the category itself: descendants are `path @> ARRAY[id]`
    path         uuid[] NOT NULL,
    name         text NOT NULL,
    slug         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    position     integer NOT NULL DEFAULT 0,
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (path[cardinality(path)] = id)
);
CREATE UNIQUE INDEX categories_slug_key ON categories (slug);
CREATE INDEX categories_parent_idx ON categories (parent_id, position, id);
CREATE INDEX categories_path_idx ON categories USING gin (path);

-- Products and variants --------------------------------------------------------------------------

CREATE TABLE products (
    id                 uuid PRIMARY KEY,
    vendor_id          uuid NOT NULL REFERENCES vendors (id),
    category_id        uuid REFERENCES categories (id),
    name               text NOT NULL,
    slug               text NOT NULL,
    description        text NOT NULL DEFAULT '',
    brand              text,
    tags               text[] NOT NULL DEFAULT '{}',
    -- typed key/values usable as filters: {"material": "cotton", "waterproof": true, "screen_mm": 155}
    attributes         jsonb NOT NULL DEFAULT '{}',
    -- the option axes variants are made from: [{"name": "size", "values": ["S", "M"]}]
    options            jsonb NOT NULL DEFAULT '[]',
    images             jsonb NOT NULL DEFAULT '[]',   -- [{"url", "alt", "position"}]
    status             text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'archived')),
    price_amount       bigint NOT NULL CHECK (price_amount >= 0),
    compare_at_amount  bigint CHECK (compare_at_amount > price_amount),
    currency           char(3) NOT NULL,
    weight_grams       integer CHECK (weight_grams >= 0),
    length_mm          integer CHECK (length_mm >= 0),
    width_mm           integer CHECK (width_mm >= 0),
    height_mm          integer CHECK (height_mm >= 0),
    -- popularity: units sold in the last 30 days, kept by the orders side (0 until orders exist)
    units_sold_30d     integer NOT NULL DEFAULT 0,
    -- some active variant has stock available in an active warehouse: kept by the inventory
    -- side whenever a variant goes in or out of stock (under this row's lock)
    in_stock           boolean NOT NULL DEFAULT false,
    search_vector      tsvector NOT NULL DEFAULT ''::tsvector,
    -- what search counts facets by: the ids (facet_values) of its category, vendor and attributes
    facet_codes        integer[] NOT NULL DEFAULT '{}',
    published_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX products_slug_key ON products (slug);
CREATE INDEX products_newest_idx ON products (created_at DESC, id DESC) WHERE status = 'active';
CREATE INDEX products_price_idx ON products (price_amount, id) WHERE status = 'active';
CREATE INDEX products_popular_idx ON products (units_sold_30d DESC, id DESC) WHERE status = 'active';
CREATE INDEX products_category_idx ON products (category_id, created_at DESC, id DESC) WHERE status = 'active';
CREATE INDEX products_vendor_idx ON products (vendor_id, created_at DESC, id DESC);
CREATE INDEX products_tags_idx ON products USING gin (tags);
CREATE INDEX products_attributes_idx ON products USING gin (attributes jsonb_path_ops);
CREATE INDEX products_search_idx ON products USING gin (search_vector);

-- Every value a facet counts, numbered: a search adds up small integers, not text or jsonb.
CREATE TABLE facet_values (
    id     serial PRIMARY KEY,
    kind   text NOT NULL CHECK (kind IN ('category', 'vendor', 'attribute')),
    key    text NOT NULL,              -- the category or vendor id, or the attribute's key
    value  text NOT NULL DEFAULT '',   -- the attribute's value, as text
    UNIQUE (kind, key, value)
);

CREATE FUNCTION facet_value_id(p_kind text, p_key text, p_value text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    found integer;
BEGIN
    SELECT id INTO found FROM facet_values WHERE kind = p_kind AND key = p_key AND value = p_value;
    IF found IS NULL THEN
        INSERT INTO facet_values (kind, key, value) VALUES (p_kind, p_key, p_value)
        ON CONFLICT DO NOTHING RETURNING id INTO found;
        IF found IS NULL THEN  -- a concurrent writer numbered it first
            SELECT id INTO found FROM facet_values WHERE kind = p_kind AND key = p_key AND value = p_value;
        END IF;
    END IF;
    RETURN found;
END;
$$;

CREATE FUNCTION products_facet_codes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.facet_codes := ARRAY(
        SELECT facet_value_id(f.kind, f.key, f.value)
        FROM (SELECT 'category', NEW.category_id::text, '' WHERE NEW.category_id IS NOT NULL
              UNION ALL SELECT 'vendor', NEW.vendor_id::text, ''
              UNION ALL SELECT 'attribute', a.key, a.value FROM jsonb_each_text(NEW.attributes) a)
             AS f (kind, key, value));
    RETURN NEW;
END;
$$;
CREATE TRIGGER products_facet_codes_insert BEFORE INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION products_facet_codes();
CREATE TRIGGER products_facet_codes_update BEFORE UPDATE OF category_id, vendor_id, attributes
    ON products FOR EACH ROW EXECUTE FUNCTION products_facet_codes();

-- The weighted document search matches: name and brand, then tags and the category's name, then
-- the description.
CREATE FUNCTION products_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', NEW.name), 'A')
        || setweight(to_tsvector('english', coalesce(NEW.brand, '')), 'A')
        || setweight(to_tsvector('english', array_to_string(NEW.tags, ' ')), 'B')
        || setweight(to_tsvector('english', coalesce(
               (SELECT c.name FROM categories c WHERE c.id = NEW.category_id), '')), 'C')
        || setweight(to_tsvector('english', left(NEW.description, 4000)), 'D');
    RETURN NEW;
END;
$$;
CREATE TRIGGER products_search_vector_insert BEFORE INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION products_search_vector();
CREATE TRIGGER products_search_vector_update BEFORE UPDATE OF name, brand, tags, description, category_id
    ON products FOR EACH ROW EXECUTE FUNCTION products_search_vector();

CREATE TABLE product_variants (
    id                uuid PRIMARY KEY,
    product_id        uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    vendor_id         uuid NOT NULL REFERENCES vendors (id),
    sku               text NOT NULL,
    barcode           text,
    name              text NOT NULL,
    option_values     jsonb NOT NULL DEFAULT '{}',   -- {"size": "M", "colour": "red"}
    -- the variant's own price, or else the product's price plus the adjustment
    price_amount      bigint CHECK (price_amount >= 0),
    price_adjustment  bigint NOT NULL DEFAULT 0,
    weight_grams      integer CHECK (weight_grams >= 0),
    position          integer NOT NULL DEFAULT 0,
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX product_variants_sku_key ON product_variants (vendor_id, sku);
CREATE INDEX product_variants_product_idx ON product_variants (product_id, position, id);

-- Warehouses and stock ---------------------------------------------------------------------------

CREATE TABLE warehouses (
    id          uuid PRIMARY KEY,
    code        text NOT NULL,
    name        text NOT NULL,
    country     char(2) NOT NULL,
    region      text,
    priority    integer NOT NULL DEFAULT 100,   -- lower ships first
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX warehouses_code_key ON warehouses (code);

-- The one stock counter per variant and warehouse: what is on the shelf and how much of it is
-- promised to open orders. Available = on_hand - reserved; nothing else counts stock.
CREATE TABLE stock (
    variant_id           uuid NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
    warehouse_id         uuid NOT NULL REFERENCES warehouses (id),
    on_hand              integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved             integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    low_stock_threshold  integer CHECK (low_stock_threshold >= 0),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (variant_id, warehouse_id),
    CHECK (reserved <= on_hand)
);
CREATE INDEX stock_warehouse_idx ON stock (warehouse_id);

-- Every change to a stock row, with its reason: the ledger stock can be audited and rebuilt from.
CREATE TABLE stock_movements (
    id              bigserial PRIMARY KEY,
    variant_id      uuid NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
    warehouse_id    uuid NOT NULL REFERENCES warehouses (id),
    on_hand_delta   integer NOT NULL,
    reserved_delta  integer NOT NULL DEFAULT 0,
    reason          text NOT NULL,
    reference       text,
    actor_id        uuid,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_variant_idx ON stock_movements (variant_id, warehouse_id, id);

-- Search -----------------------------------------------------------------------------------------

-- Every word the catalog's names, brands, tags and categories use: the dictionary a misspelt
-- query word is corrected against (trigram distance, nearest first).
CREATE TABLE search_terms (
    term  text PRIMARY KEY
);
CREATE INDEX search_terms_trgm_idx ON search_terms USING gist (term gist_trgm_ops);
CREATE INDEX search_terms_prefix_idx ON search_terms (term text_pattern_ops);

CREATE FUNCTION products_collect_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_terms (term)
    SELECT DISTINCT lexeme
    FROM new_products,
         unnest(to_tsvector('simple',
             name || ' ' || coalesce(brand, '') || ' ' || array_to_string(tags, ' ')))
    WHERE length(lexeme) BETWEEN 3 AND 40 AND lexeme !~ '^[0-9]+$'
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER products_terms_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS new_products FOR EACH STATEMENT EXECUTE FUNCTION products_collect_terms();
-- On update, only rows whose words changed (a bulk price change touches no words).
CREATE FUNCTION products_collect_changed_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_terms (term)
    SELECT DISTINCT lexeme
    FROM new_products n
    JOIN old_products o ON o.id = n.id
    CROSS JOIN LATERAL unnest(to_tsvector('simple',
        n.name || ' ' || coalesce(n.brand, '') || ' ' || array_to_string(n.tags, ' ')))
    WHERE (n.name, n.brand, n.tags) IS DISTINCT FROM (o.name, o.brand, o.tags)
      AND length(lexeme) BETWEEN 3 AND 40 AND lexeme !~ '^[0-9]+$'
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER products_terms_update AFTER UPDATE ON products
    REFERENCING OLD TABLE AS old_products NEW TABLE AS new_products
    FOR EACH STATEMENT EXECUTE FUNCTION products_collect_changed_terms();

-- What shoppers search for, per day: counts flushed in batches by the API workers.
CREATE TABLE search_query_stats (
    day               date NOT NULL,
    query             text NOT NULL,
    searches          integer NOT NULL,
    zero_results      integer NOT NULL,
    last_searched_at  timestamptz NOT NULL,
    PRIMARY KEY (day, query)
);
CREATE INDEX search_query_stats_zero_idx ON search_query_stats (day, zero_results DESC) WHERE zero_results > 0;
