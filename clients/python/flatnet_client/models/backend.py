from enum import StrEnum


class Backend(StrEnum):
    HOST_GW = "host-gw"
    VXLAN = "vxlan"

    def __str__(self) -> str:
        return str(self.value)
