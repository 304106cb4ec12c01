"""Registry store implementations, chosen by the database URL's scheme."""

from __future__ import annotations

from collections.abc import Callable

from weather_registry.store import RegistryStore

_KINDS: dict[str, Callable[[str, int], RegistryStore]] = {}


def register(
    *schemes: str,
) -> Callable[[Callable[[str, int], RegistryStore]], Callable[[str, int], RegistryStore]]:
    """Registers a store factory for URL schemes (the part before "://" and any "+driver")."""

    def decorate(
        factory: Callable[[str, int], RegistryStore],
    ) -> Callable[[str, int], RegistryStore]:
        for scheme in schemes:
            _KINDS[scheme] = factory
        return factory

    return decorate


@register("sqlite", "postgresql", "postgres")
def _sql(url: str, pool_size: int) -> RegistryStore:
    from weather_registry.stores.sql import SqlStore

    return SqlStore(url, pool_size)


def create_store(url: str, pool_size: int = 16) -> RegistryStore:
    """The store for a database URL; ValueError for an unknown scheme."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    try:
        factory = _KINDS[scheme]
    except KeyError:
        raise ValueError(
            f"no registry store for {scheme!r} URLs; known: {sorted(_KINDS)}"
        ) from None
    return factory(url, pool_size)
