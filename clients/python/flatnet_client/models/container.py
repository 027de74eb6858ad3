from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.container_port import ContainerPort
    from ..models.env_var import EnvVar
    from ..models.probe import Probe


T = TypeVar("T", bound="Container")


@_attrs_define
class Container:
    """A container: a process started in the pod's network namespace. `image` is accepted and
    shown, not pulled: `command` + `args` are run on the node.

        Attributes:
            command (list[str]):
            name (str):
            args (list[str] | Unset):
            env (list[EnvVar] | Unset):
            image (None | str | Unset):
            ports (list[ContainerPort] | Unset): Each `containerPort`/`protocol` once; port names are unique within the pod.
            readiness_probe (None | Probe | Unset):
            working_dir (None | str | Unset):
    """

    command: list[str]
    name: str
    args: list[str] | Unset = UNSET
    env: list[EnvVar] | Unset = UNSET
    image: None | str | Unset = UNSET
    ports: list[ContainerPort] | Unset = UNSET
    readiness_probe: None | Probe | Unset = UNSET
    working_dir: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.probe import Probe  # noqa: PLC0415

        command = self.command

        name = self.name

        args: list[str] | Unset = UNSET
        if not isinstance(self.args, Unset):
            args = self.args

        env: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.env, Unset):
            env = []
            for env_item_data in self.env:
                env_item = env_item_data.to_dict()
                env.append(env_item)

        image: None | str | Unset
        if isinstance(self.image, Unset):
            image = UNSET
        else:
            image = self.image

        ports: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.ports, Unset):
            ports = []
            for ports_item_data in self.ports:
                ports_item = ports_item_data.to_dict()
                ports.append(ports_item)

        readiness_probe: dict[str, Any] | None | Unset
        if isinstance(self.readiness_probe, Unset):
            readiness_probe = UNSET
        elif isinstance(self.readiness_probe, Probe):
            readiness_probe = self.readiness_probe.to_dict()
        else:
            readiness_probe = self.readiness_probe

        working_dir: None | str | Unset
        if isinstance(self.working_dir, Unset):
            working_dir = UNSET
        else:
            working_dir = self.working_dir

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "command": command,
                "name": name,
            }
        )
        if args is not UNSET:
            field_dict["args"] = args
        if env is not UNSET:
            field_dict["env"] = env
        if image is not UNSET:
            field_dict["image"] = image
        if ports is not UNSET:
            field_dict["ports"] = ports
        if readiness_probe is not UNSET:
            field_dict["readinessProbe"] = readiness_probe
        if working_dir is not UNSET:
            field_dict["workingDir"] = working_dir

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.container_port import ContainerPort  # noqa: PLC0415
        from ..models.env_var import EnvVar  # noqa: PLC0415
        from ..models.probe import Probe  # noqa: PLC0415

        d = dict(src_dict)
        command = cast(list[str], d.pop("command"))

        name = d.pop("name")

        args = cast(list[str], d.pop("args", UNSET))

        _env = d.pop("env", UNSET)
        env: list[EnvVar] | Unset = UNSET
        if _env is not UNSET:
            env = []
            for env_item_data in _env:
                env_item = EnvVar.from_dict(env_item_data)

                env.append(env_item)

        def _parse_image(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        image = _parse_image(d.pop("image", UNSET))

        _ports = d.pop("ports", UNSET)
        ports: list[ContainerPort] | Unset = UNSET
        if _ports is not UNSET:
            ports = []
            for ports_item_data in _ports:
                ports_item = ContainerPort.from_dict(ports_item_data)

                ports.append(ports_item)

        def _parse_readiness_probe(data: object) -> None | Probe | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                readiness_probe_type_1 = Probe.from_dict(data)

                return readiness_probe_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Probe | Unset, data)

        readiness_probe = _parse_readiness_probe(d.pop("readinessProbe", UNSET))

        def _parse_working_dir(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        working_dir = _parse_working_dir(d.pop("workingDir", UNSET))

        container = cls(
            command=command,
            name=name,
            args=args,
            env=env,
            image=image,
            ports=ports,
            readiness_probe=readiness_probe,
            working_dir=working_dir,
        )

        return container
