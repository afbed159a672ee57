"""Categories: one tree with unique slugs, bounded depth and no cycles.

Each category stores its path (ancestors, then itself), so a subtree is one indexed condition and
a move rewrites the paths of the subtree in one statement. Writes that change the tree's shape
take one transaction-scoped advisory lock, so two concurrent moves can never build a cycle.
Every worker keeps the decoded tree in memory (``category_index``), dropped on any category
write, to expand a category into its descendants and draw breadcrumbs without a query.
"""

import uuid
from collections.abc import Iterable
from typing import Literal

import msgspec

from citadel.catalog.models import (
    CATEGORIES_TOPIC,
    MAX_CATEGORY_DEPTH,
    PRODUCT_LISTS_TOPIC,
    PRODUCT_TOPIC,
    SEARCH_TOPIC,
    Category,
    CategoryChanged,
    CategoryCreate,
    CategoryMove,
    CategoryNode,
    CategoryRef,
    CategoryRow,
    CategoryTree,
    CategoryUpdate,
)
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from citadel.kit.events import emit
from citadel.kit.ids import uuid7
from citadel.kit.runtime import Runtime
from citadel.kit.text import slugify, squash

Q = load_queries(__file__)


class CategoryNotFound(NotFound):
    code = "category_not_found"
    title = "Category not found"


class SlugTaken(Conflict):
    code = "slug_taken"
    title = "Slug already in use"


class InvalidParent(ValidationFailed):
    code = "invalid_parent"
    title = "A category cannot move under itself or its descendants"


class CategoryTooDeep(ValidationFailed):
    code = "category_too_deep"
    title = "The category tree would be too deep"


class CategoryNotEmpty(Conflict):
    code = "category_not_empty"
    title = "The category has subcategories or products"


def _ref(row: CategoryRow) -> CategoryRef:
    return CategoryRef(id=row.id, name=row.name, slug=row.slug)


class CategoryIndex:
    """The whole tree, decoded: lookups by id and slug, children, descendants, breadcrumbs."""

    def __init__(self, rows: Iterable[CategoryRow]) -> None:
        self.rows = {row.id: row for row in rows}
        self.by_slug = {row.slug: row.id for row in self.rows.values()}
        self.children: dict[uuid.UUID | None, list[CategoryRow]] = {}
        for row in self.rows.values():  # rows arrive parents first, siblings in display order
            self.children.setdefault(row.parent_id, []).append(row)

    def resolve(self, ref: str) -> CategoryRow | None:
        """A category by id or by slug."""
        try:
            return self.rows.get(uuid.UUID(ref))
        except ValueError:
            found = self.by_slug.get(ref)
            return self.rows[found] if found else None

    def visible(self, row: CategoryRow) -> bool:
        """Active, and every ancestor active too."""
        return all(self.rows[a].is_active for a in row.path if a in self.rows)

    def descendants(self, category_id: uuid.UUID, *, active_only: bool) -> list[uuid.UUID]:
        """The category and everything below it (without inactive subtrees, if asked)."""
        found: list[uuid.UUID] = []
        stack = [category_id]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(
                child.id for child in self.children.get(current, ()) if child.is_active or not active_only
            )
        return found

    def breadcrumbs(self, row: CategoryRow) -> list[CategoryRef]:
        return [_ref(self.rows[a]) for a in row.path if a in self.rows]

    def view(self, row: CategoryRow, *, active_only: bool) -> Category:
        children = [
            _ref(child) for child in self.children.get(row.id, ()) if child.is_active or not active_only
        ]
        return Category(
            id=row.id,
            parent_id=row.parent_id,
            name=row.name,
            slug=row.slug,
            description=row.description,
            position=row.position,
            is_active=row.is_active,
            depth=len(row.path),
            breadcrumbs=self.breadcrumbs(row),
            children=children,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def tree(self, *, active_only: bool) -> CategoryTree:
        def nodes(parent: uuid.UUID | None) -> list[CategoryNode]:
            return [
                CategoryNode(
                    id=row.id,
                    name=row.name,
                    slug=row.slug,
                    position=row.position,
                    is_active=row.is_active,
                    children=nodes(row.id),
                )
                for row in self.children.get(parent, ())
                if row.is_active or not active_only
            ]

        return CategoryTree(items=nodes(None))


async def load_index(conn: Connection) -> CategoryIndex:
    return CategoryIndex(from_rows(CategoryRow, await conn.fetch(Q.list_categories)))


async def category_index(runtime: Runtime) -> CategoryIndex:
    """This worker's decoded tree (loaded once, dropped by any category write)."""

    async def load(_: str) -> CategoryIndex:
        async with runtime.db.connection() as conn:
            return await load_index(conn)

    index: CategoryIndex = await runtime.local_cache(CATEGORIES_TOPIC, max_entries=1).get("*", load)
    return index


# --- writes --------------------------------------------------------------------------------------


def _slug_error(field: str = "slug") -> SlugTaken:
    return SlugTaken(
        "Another category uses this slug.",
        errors=[FieldError(field=field, message="Already in use", code="slug_taken")],
    )


async def _free_slug(conn: Connection, wanted: str | None, name: str, category_id: uuid.UUID) -> str:
    if wanted is not None:
        if await conn.fetchval(Q.category_slug_taken, wanted, category_id):
            raise _slug_error()
        return wanted
    base = slugify(name) or "category"
    candidate, n = base, 1
    while await conn.fetchval(Q.category_slug_taken, candidate, category_id):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


async def _changed(
    conn: Connection,
    category_ids: list[uuid.UUID],
    change: Literal["created", "updated", "moved", "deleted"],
    *,
    products_affected: bool = True,
) -> None:
    """After any category write: drop the tree, the lists, and the pages of the products filed there."""
    for topic in (CATEGORIES_TOPIC, PRODUCT_LISTS_TOPIC, SEARCH_TOPIC):
        conn.invalidate_after_commit(topic, "*")
    if products_affected:
        for row in await conn.fetch(Q.products_in_categories, category_ids):
            conn.invalidate_after_commit(PRODUCT_TOPIC, str(row["id"]))
    await emit(
        conn, CategoryChanged(category_id=category_ids[0], change=change), aggregate_id=category_ids[0]
    )


async def _get_for_update(conn: Connection, category_id: uuid.UUID, field: str | None = None) -> CategoryRow:
    row = await conn.fetchrow(Q.get_category_for_update, category_id)
    if row is None:
        errors = (
            [FieldError(field=field, message="No such category", code="category_not_found")]
            if field
            else None
        )
        raise CategoryNotFound(errors=errors)
    return from_row(CategoryRow, row)


async def create_category(conn: Connection, data: CategoryCreate) -> Category:
    await conn.execute(Q.lock_category_tree)
    category_id = uuid7()
    path = [category_id]
    if data.parent_id is not None:
        parent = await _get_for_update(conn, data.parent_id, field="parentId")
        path = [*parent.path, category_id]
        if len(path) > MAX_CATEGORY_DEPTH:
            raise CategoryTooDeep(f"Categories nest at most {MAX_CATEGORY_DEPTH} levels deep.")
    name = squash(data.name)
    slug = await _free_slug(conn, data.slug, name, category_id)
    row = await conn.fetchrow(
        Q.insert_category, category_id, data.parent_id, path, name, slug, data.description, data.position,
        data.is_active,
    )  # fmt: skip
    await conn.execute(Q.add_search_terms, name)
    await _changed(conn, [category_id], "created", products_affected=False)
    return (await load_index(conn)).view(from_row(CategoryRow, row), active_only=False)


async def update_category(conn: Connection, category_id: uuid.UUID, data: CategoryUpdate) -> Category:
    current = await _get_for_update(conn, category_id)
    values = {
        name: getattr(current, name) if getattr(data, name) is msgspec.UNSET else getattr(data, name)
        for name in ("name", "slug", "description", "position", "is_active")
    }
    values["name"] = squash(values["name"])
    if values["slug"] != current.slug:
        values["slug"] = await _free_slug(conn, values["slug"], values["name"], category_id)
    row = from_row(
        CategoryRow,
        await conn.fetchrow(
            Q.update_category, category_id, values["name"], values["slug"], values["description"],
            values["position"], values["is_active"],
        ),
    )  # fmt: skip
    if row.name != current.name:
        await conn.execute(Q.reindex_category_products, category_id)
        await conn.execute(Q.add_search_terms, row.name)
    index = await load_index(conn)
    await _changed(conn, index.descendants(category_id, active_only=False), "updated")
    return index.view(row, active_only=False)


async def move_category(conn: Connection, category_id: uuid.UUID, data: CategoryMove) -> Category:
    await conn.execute(Q.lock_category_tree)
    current = await _get_for_update(conn, category_id)
    parent_path: list[uuid.UUID] = []
    if data.parent_id is not None:
        parent = await _get_for_update(conn, data.parent_id, field="parentId")
        if category_id in parent.path:
            raise InvalidParent(
                "A category cannot move under itself or one of its descendants.",
                errors=[FieldError(field="parentId", message="Would make a cycle", code="invalid_parent")],
            )
        parent_path = parent.path
    levels = int(await conn.fetchval(Q.max_depth_below, category_id, len(current.path)))
    if len(parent_path) + levels > MAX_CATEGORY_DEPTH:
        raise CategoryTooDeep(f"Categories nest at most {MAX_CATEGORY_DEPTH} levels deep.")
    position = current.position if data.position is msgspec.UNSET else data.position
    await conn.execute(Q.set_category_parent, category_id, data.parent_id, position)
    await conn.execute(Q.move_category_subtree, category_id, parent_path, len(current.path) - 1)
    index = await load_index(conn)
    await _changed(conn, index.descendants(category_id, active_only=False), "moved")
    return index.view(index.rows[category_id], active_only=False)


async def delete_category(conn: Connection, category_id: uuid.UUID, reassign_to: uuid.UUID | None) -> None:
    """Delete an empty category; with ``reassign_to``, its children and products move there first."""
    await conn.execute(Q.lock_category_tree)
    current = await _get_for_update(conn, category_id)
    children = int(await conn.fetchval(Q.count_category_children, category_id))
    products = int(await conn.fetchval(Q.count_category_products, category_id))
    affected = (await load_index(conn)).descendants(category_id, active_only=False)
    if children or products:
        if reassign_to is None:
            raise CategoryNotEmpty(
                f"The category has {children} subcategories and {products} products; "
                "pass reassignTo to move them to another category first."
            )
        target = await _get_for_update(conn, reassign_to, field="reassignTo")
        if category_id in target.path:
            raise InvalidParent(
                "Reassign to a category outside the one being deleted.",
                errors=[
                    FieldError(
                        field="reassignTo",
                        message="Inside the deleted category",
                        code="invalid_parent",
                        source="query",
                    )
                ],
            )
        child_depth = int(await conn.fetchval(Q.max_depth_below, category_id, len(current.path))) - 1
        if len(target.path) + child_depth > MAX_CATEGORY_DEPTH:
            raise CategoryTooDeep(f"Categories nest at most {MAX_CATEGORY_DEPTH} levels deep.")
        for child in await conn.fetch(Q.move_category_children, category_id, reassign_to):
            await conn.execute(Q.move_category_subtree, child["id"], target.path, len(current.path))
        await conn.execute(Q.move_category_products, category_id, reassign_to)
        await emit(conn, CategoryChanged(category_id=reassign_to, change="updated"), aggregate_id=reassign_to)
    await _changed(conn, affected, "deleted")
    await conn.execute(Q.delete_category, category_id)


# --- reads -------------------------------------------------------------------------------------


async def get_category(runtime: Runtime, ref: str, *, active_only: bool = True) -> Category:
    index = await category_index(runtime)
    row = index.resolve(ref)
    if row is None or (active_only and not index.visible(row)):
        raise CategoryNotFound()
    return index.view(row, active_only=active_only)
