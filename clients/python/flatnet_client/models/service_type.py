from enum import StrEnum


class ServiceType(StrEnum):
    CLUSTERIP = "ClusterIP"
    EXTERNALNAME = "ExternalName"
    NODEPORT = "NodePort"

    def __str__(self) -> str:
        return str(self.value)
