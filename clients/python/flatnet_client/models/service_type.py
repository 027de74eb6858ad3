from enum import StrEnum


class ServiceType(StrEnum):
    CLUSTERIP = "ClusterIP"
    NODEPORT = "NodePort"

    def __str__(self) -> str:
        return str(self.value)
