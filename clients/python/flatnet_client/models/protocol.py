from enum import StrEnum


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"

    def __str__(self) -> str:
        return str(self.value)
