package testenv

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
)

// The Azure Blob Storage emulator's variables, as printed by `scripts/services.sh env`.
const (
	EnvAzureEndpoint = "DRUID_SIDECAR_TEST_AZURE_ENDPOINT" // http://host:port/account of Azurite's blob service
	EnvAzureAccount  = "DRUID_SIDECAR_TEST_AZURE_ACCOUNT"  // its storage account
	EnvAzureKey      = "DRUID_SIDECAR_TEST_AZURE_KEY"      // the account's shared key
)

// AzureContainer is a fresh, empty container of the test's own on the local Azure Blob Storage emulator (Azurite).
type AzureContainer struct {
	Endpoint  string // the blob service's URL: http://host:port/account
	Account   string
	Key       string // the account's shared key (Azurite's well-known development key)
	Container string
}

// Azure creates a fresh container for the test and deletes it, with its blobs, when the test ends.
func Azure(t testing.TB) AzureContainer {
	t.Helper()
	Integration(t)
	return azureAt(t, defaultLimits, AzureContainer{
		Endpoint: setting(t, "Azure emulator", EnvAzureEndpoint),
		Account:  setting(t, "Azure emulator", EnvAzureAccount),
		Key:      setting(t, "Azure emulator", EnvAzureKey),
	})
}

func azureAt(t testing.TB, lim limits, c AzureContainer) AzureContainer {
	t.Helper()
	u, err := url.Parse(c.Endpoint)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		t.Fatalf("testenv: Azure emulator: %s=%q is not an http://host:port/account endpoint (%v).\n\tfix: %s.",
			EnvAzureEndpoint, c.Endpoint, err, fix)
	}
	dialCheck(t, lim, "Azure emulator", u.Host)
	c.Container = uniqueName(t, "dst-", '-', true, 63)
	client := c.client(t, lim)
	ctx, cancel := context.WithTimeout(context.Background(), lim.op)
	defer cancel()
	if _, err := client.CreateContainer(ctx, c.Container, nil); err != nil {
		fail(t, "Azure emulator", c.Endpoint, "creating container "+c.Container, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), lim.op)
		defer cancel()
		if _, err := client.DeleteContainer(ctx, c.Container, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerNotFound) {
			t.Errorf("testenv: Azure emulator at %s: removing the test's container %s: %v", c.Endpoint, c.Container, err)
		}
	})
	return c
}

// Client returns a client of the emulator, signed with the account's shared key.
func (c AzureContainer) Client(t testing.TB) *azblob.Client {
	t.Helper()
	return c.client(t, defaultLimits)
}

func (c AzureContainer) client(t testing.TB, lim limits) *azblob.Client {
	t.Helper()
	transport := emulatorTransport(lim)
	cred, err := azblob.NewSharedKeyCredential(c.Account, c.Key)
	if err != nil {
		t.Fatalf("testenv: Azure emulator: %s is not a shared key: %v.\n\tfix: %s.", EnvAzureKey, err, fix)
	}
	client, err := azblob.NewClientWithSharedKeyCredential(c.Endpoint+"/", cred, &azblob.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: transport},
			Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		fail(t, "Azure emulator", c.Endpoint, "making a client", err)
	}
	return client
}

// Put stores body as the blob name of the test's container.
func (c AzureContainer) Put(t testing.TB, name string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*defaultLimits.op)
	defer cancel()
	if _, err := c.client(t, defaultLimits).UploadStream(ctx, c.Container, name, bytes.NewReader(body), nil); err != nil {
		fail(t, "Azure emulator", c.Endpoint, "putting azure://"+c.Container+"/"+name, err)
	}
}

// SAS returns a shared access signature (a query string without "?") that lets its holder read and list the test's
// container for an hour, as druid.azure.sharedAccessStorageToken carries one.
func (c AzureContainer) SAS(t testing.TB) string {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(c.Account, c.Key)
	if err != nil {
		t.Fatalf("testenv: Azure emulator: %s is not a shared key: %v", EnvAzureKey, err)
	}
	q, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     time.Now().Add(-5 * time.Minute),
		ExpiryTime:    time.Now().Add(time.Hour),
		ContainerName: c.Container,
		Permissions:   (&sas.ContainerPermissions{Read: true, List: true}).String(),
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatalf("testenv: Azure emulator: signing a shared access signature: %v", err)
	}
	return q.Encode()
}
