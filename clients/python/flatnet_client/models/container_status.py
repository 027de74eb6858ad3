from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.container_state import ContainerState


T = TypeVar("T", bound="ContainerStatus")


@_attrs_define
class ContainerStatus:
    """
    Attributes:
        name (str):
        image (str | Unset): The container's `image` as its spec names it (flatnet runs commands, not images; an
            empty string when the spec names none). Always present: Kubernetes' clients require it.
        image_id (str | Unset): What the image resolved to: flatnet pulls nothing, so this repeats `image`. Always
            present: Kubernetes' clients require it.
        last_state (ContainerState | None | Unset):
        ready (bool | Unset):
        restart_count (int | Unset):
        state (ContainerState | Unset): Exactly one of `waiting`, `running`, `terminated` is set.
    """

    name: str
    image: str | Unset = UNSET
    image_id: str | Unset = UNSET
    last_state: ContainerState | None | Unset = UNSET
    ready: bool | Unset = UNSET
    restart_count: int | Unset = UNSET
    state: ContainerState | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.container_state import ContainerState  # noqa: PLC0415

        name = self.name

        image = self.image

        image_id = self.image_id

        last_state: dict[str, Any] | None | Unset
        if isinstance(self.last_state, Unset):
            last_state = UNSET
        elif isinstance(self.last_state, ContainerState):
            last_state = self.last_state.to_dict()
        else:
            last_state = self.last_state

        ready = self.ready

        restart_count = self.restart_count

        state: dict[str, Any] | Unset = UNSET
        if not isinstance(self.state, Unset):
            state = self.state.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if image is not UNSET:
            field_dict["image"] = image
        if image_id is not UNSET:
            field_dict["imageID"] = image_id
        if last_state is not UNSET:
            field_dict["lastState"] = last_state
        if ready is not UNSET:
            field_dict["ready"] = ready
        if restart_count is not UNSET:
            field_dict["restartCount"] = restart_count
        if state is not UNSET:
            field_dict["state"] = state

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.container_state import ContainerState  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        image = d.pop("image", UNSET)

        image_id = d.pop("imageID", UNSET)

        def _parse_last_state(data: object) -> ContainerState | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                last_state_type_1 = ContainerState.from_dict(data)

                return last_state_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ContainerState | None | Unset, data)

        last_state = _parse_last_state(d.pop("lastState", UNSET))

        ready = d.pop("ready", UNSET)

        restart_count = d.pop("restartCount", UNSET)

        _state = d.pop("state", UNSET)
        state: ContainerState | Unset
        if isinstance(_state, Unset):
            state = UNSET
        else:
            state = ContainerState.from_dict(_state)

        container_status = cls(
            name=name,
            image=image,
            image_id=image_id,
            last_state=last_state,
            ready=ready,
            restart_count=restart_count,
            state=state,
        )

        return container_status
