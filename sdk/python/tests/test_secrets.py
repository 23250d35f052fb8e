"""SecretService through the generated stubs: set, list (names only), delete, per tenant."""

from __future__ import annotations

import grpc
import pytest
from conftest import API_KEY, OTHER_API_KEY

from agentruntime_client import Client, secret_service_pb2

TIMEOUT = 30


def test_set_list_delete_secret(server):
    value = "py-sdk-secret-value-8c1f"
    with Client(server.target, API_KEY) as client, Client(server.target, OTHER_API_KEY) as other:
        res = client.secrets.SetSecret(
            secret_service_pb2.SetSecretRequest(name="PY_SDK_TOKEN", value=value), timeout=TIMEOUT
        )
        assert res.secret.name == "PY_SDK_TOKEN"
        assert res.secret.create_time.seconds > 0
        assert value not in str(res)

        listed = client.secrets.ListSecrets(secret_service_pb2.ListSecretsRequest(), timeout=TIMEOUT)
        assert "PY_SDK_TOKEN" in [s.name for s in listed.secrets]
        assert value not in str(listed)
        theirs = other.secrets.ListSecrets(secret_service_pb2.ListSecretsRequest(), timeout=TIMEOUT)
        assert "PY_SDK_TOKEN" not in [s.name for s in theirs.secrets]

        with pytest.raises(grpc.RpcError) as bad:
            client.secrets.SetSecret(
                secret_service_pb2.SetSecretRequest(name="not-valid", value=value), timeout=TIMEOUT
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert value not in (bad.value.details() or "")

        client.secrets.DeleteSecret(
            secret_service_pb2.DeleteSecretRequest(name="PY_SDK_TOKEN"), timeout=TIMEOUT
        )
        with pytest.raises(grpc.RpcError) as gone:
            client.secrets.DeleteSecret(
                secret_service_pb2.DeleteSecretRequest(name="PY_SDK_TOKEN"), timeout=TIMEOUT
            )
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    assert value not in server.log_text()
