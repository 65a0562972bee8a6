"""A botocore ``Session`` for reading settings only, without importing ``botocore.session``.

A client given explicit keys reads nothing but settings from its session (region, profile,
retry settings, CA bundle, FIPS / dual-stack, configured endpoint URLs, the data path), yet
``import botocore.session`` pulls in ``botocore.client``, its waiter and documentation machinery,
``botocore.credentials`` and ``botocore.tokens`` (~20 ms of a cold start). ``ConfigSession``
answers what the settings code asks a session, with the same botocore pieces ``Session`` builds
those answers from: its config store (``ConfigValueStore`` over
``create_botocore_default_config_mapping``, so every variable has botocore's own chain of
instance variable, environment, profile and default), ``botocore.configloader`` for the config
and credentials files, and ``botocore.loaders.create_loader`` for the data path.
``tests/test_config_session.py`` resolves settings through it and through a real ``Session`` over
many configurations and asserts the same results and the same errors.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["ConfigSession", "can_replace_session"]


def can_replace_session() -> bool:
    """Whether a ``ConfigSession`` reads settings exactly as a new ``botocore.session.Session``
    would: not when something registered a session initializer
    (``botocore.register_initializer``), which may change a new session's configuration and
    only runs on real sessions."""
    import botocore

    return not getattr(botocore, "_INITIALIZERS", ())


class ConfigSession:
    """The settings side of ``botocore.session.Session(profile=profile)``.

    It mirrors these ``Session`` members, each built the way ``Session`` builds it:

    * ``__init__(profile=...)``: ``profile`` as the session instance variable ``profile``;
    * ``instance_variables()``, ``get_config_variable(name)``, ``profile``;
    * ``get_scoped_config()``: the profile's section (``ProfileNotFound`` for a named profile that
      does not exist, ``{}`` when no profile is named and there is no ``default``);
    * ``full_config``: the config file, with each profile of the shared credentials file merged
      into it (botocore does that so a profile only in the credentials file is known; it also
      makes that profile's values, a ``region`` say, part of the scoped config);
    * ``get_component(name)`` for ``"config_store"`` and ``"data_loader"`` only (the loader over
      ``data_path`` / ``AWS_DATA_PATH``, created on first use, as ``Session`` does).

    It has no event hooks, credentials or clients: a client with explicit keys needs none.
    """

    def __init__(self, profile: str | None = None) -> None:
        from botocore.configprovider import (
            ConfigValueStore,
            create_botocore_default_config_mapping,
        )

        self._instance_vars: dict[str, Any] = {}
        if profile is not None:
            self._instance_vars["profile"] = profile
        self._config: dict[str, Any] | None = None
        self._profile_map: dict[str, Any] | None = None
        self._profile: str | None = None
        self._data_loader: Any = None
        self._config_store = ConfigValueStore(mapping=create_botocore_default_config_mapping(self))

    def instance_variables(self) -> dict[str, Any]:
        return copy.copy(self._instance_vars)

    def get_config_variable(self, logical_name: str) -> Any:
        return self._config_store.get_config_variable(logical_name)

    @property
    def profile(self) -> str | None:
        if self._profile is None:
            self._profile = self.get_config_variable("profile")
        return self._profile

    def get_component(self, name: str) -> Any:
        if name == "config_store":
            return self._config_store
        if name == "data_loader":
            if self._data_loader is None:
                from botocore.loaders import create_loader

                self._data_loader = create_loader(self.get_config_variable("data_path"))
            return self._data_loader
        raise ValueError(f"Unknown component: {name}")

    def get_scoped_config(self) -> dict[str, Any]:
        from botocore.exceptions import ProfileNotFound

        profile_name = self.get_config_variable("profile")
        profile_map = self._build_profile_map()
        if profile_name is None:
            scoped: dict[str, Any] = profile_map.get("default", {})
            return scoped
        if profile_name not in profile_map:
            raise ProfileNotFound(profile=profile_name)
        found: dict[str, Any] = profile_map[profile_name]
        return found

    def _build_profile_map(self) -> dict[str, Any]:
        if self._profile_map is None:
            self._profile_map = self.full_config["profiles"]
        return self._profile_map

    @property
    def full_config(self) -> dict[str, Any]:
        if self._config is None:
            from botocore.configloader import load_config, raw_config_parse
            from botocore.exceptions import ConfigNotFound

            try:
                self._config = load_config(self.get_config_variable("config_file"))
            except ConfigNotFound:
                self._config = {"profiles": {}}
            try:
                # As Session: the credentials file's profiles (names and values) are merged in.
                cred_profiles = raw_config_parse(self.get_config_variable("credentials_file"))
            except ConfigNotFound:
                pass
            else:
                profiles = self._config["profiles"]
                for profile, cred_vars in cred_profiles.items():
                    if profile not in profiles:
                        profiles[profile] = cred_vars
                    else:
                        profiles[profile].update(cred_vars)
        return self._config
