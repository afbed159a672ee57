"""Inventory: warehouses, the one stock counter per variant and warehouse with its ledger, the
holds orders take on it, and transfers between warehouses."""

from citadel.inventory.service.holds import (
    HoldPart,
    InsufficientStock,
    allocate,
    announce_holds,
    plan_holds,
    release,
    restock,
    shortages,
)
from citadel.inventory.service.stock import (
    StockReserved,
    VariantNotFound,
    adjust_stock,
    availability_of_products,
    available,
    available_by_variant,
    lock_levels,
    refresh_product_in_stock,
    set_stock,
    variant_stock,
)
from citadel.inventory.service.transfers import (
    InvalidTransferTransition,
    TransferNotFound,
    advance_transfer,
    create_transfer,
    get_transfer,
    list_transfers,
)
from citadel.inventory.service.warehouses import (
    WarehouseCodeTaken,
    WarehouseNotFound,
    create_warehouse,
    get_warehouse,
    list_warehouses,
    update_warehouse,
)

__all__ = [
    "HoldPart",
    "InsufficientStock",
    "InvalidTransferTransition",
    "StockReserved",
    "TransferNotFound",
    "VariantNotFound",
    "WarehouseCodeTaken",
    "WarehouseNotFound",
    "adjust_stock",
    "advance_transfer",
    "allocate",
    "announce_holds",
    "availability_of_products",
    "available",
    "available_by_variant",
    "create_transfer",
    "create_warehouse",
    "get_transfer",
    "get_warehouse",
    "list_transfers",
    "list_warehouses",
    "lock_levels",
    "plan_holds",
    "refresh_product_in_stock",
    "release",
    "restock",
    "set_stock",
    "shortages",
    "update_warehouse",
    "variant_stock",
]
