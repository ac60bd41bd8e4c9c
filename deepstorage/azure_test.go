package deepstorage

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// The account's shared key and a shared access signature both read a container; a wrong key, a signature of
// another container and missing credentials fail saying which druid.azure.* key to check.
func TestAzureCredentials(t *testing.T) {
	c := testenv.Azure(t)
	other := testenv.Azure(t)
	files := segmentFiles(100<<10, 3)
	c.Put(t, "druid/wiki/x/0/index.zip", goZip(t, files...))
	spec := Azure{Container: c.Container, BlobPath: "druid/wiki/x/0/index.zip"}
	base := AzureOptions{Endpoint: c.Endpoint, Account: c.Account}

	for _, k := range []struct {
		name string
		opts func(AzureOptions) AzureOptions
		is   error
		msg  string
	}{
		{name: "shared key", opts: func(o AzureOptions) AzureOptions { o.Key = c.Key; return o }},
		{name: "shared access signature", opts: func(o AzureOptions) AzureOptions { o.SAS = "?" + c.SAS(t); return o }},
		{name: "the key wins over a signature", opts: func(o AzureOptions) AzureOptions {
			o.Key, o.SAS = c.Key, "sv=2020-01-01&sig=bogus"
			return o
		}},
		{name: "wrong key", is: ErrAccessDenied, msg: "access denied reading azure://" + c.Container +
			"/druid/wiki/x/0/index.zip: check druid.azure.account with druid.azure.key or druid.azure.sharedAccessStorageToken (403",
			opts: func(o AzureOptions) AzureOptions { o.Key = "d3Jvbmc="; return o }},
		{name: "signature of another container", is: ErrAccessDenied, msg: "(403",
			opts: func(o AzureOptions) AzureOptions { o.SAS = other.SAS(t); return o }},
		{name: "no credentials", msg: "no Azure credentials: set druid.azure.key (the storage account's key) or " +
			"druid.azure.sharedAccessStorageToken", opts: func(o AzureOptions) AzureOptions { return o }},
		{name: "credentials chain", msg: "druid.azure.useAzureCredentialsChain is not supported",
			opts: func(o AzureOptions) AzureOptions { o.CredentialsChain = true; return o }},
		{name: "no account", msg: "no Azure storage account: set druid.azure.account",
			opts: func(o AzureOptions) AzureOptions { o.Endpoint, o.Account, o.Key = "", "", c.Key; return o }},
		{name: "key not base64", msg: "druid.azure.key is not a storage account key",
			opts: func(o AzureOptions) AzureOptions { o.Key = "not base64!"; return o }},
	} {
		t.Run(k.name, func(t *testing.T) {
			p := newPuller(t, cloudOptions(t, Options{Azure: k.opts(base), Retries: -1}))
			root, dir := newRoot(t)
			_, err := p.Pull(context.Background(), spec, root, 1<<20)
			if k.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkFiles(t, dir, files)
				return
			}
			if err == nil || !strings.Contains(err.Error(), k.msg) || k.is != nil && !errors.Is(err, k.is) {
				t.Errorf("err = %v\nwant %v saying %q", err, k.is, k.msg)
			}
		})
	}
}

// A Hadoop-style blob path (the whole wasbs:// address) reads the blob after the configured endpoint suffix.
func TestAzureHadoopPathPull(t *testing.T) {
	c := testenv.Azure(t)
	files := segmentFiles(10<<10, 4)
	c.Put(t, "druid/wiki/x/0/index.zip", goZip(t, files...))
	p := newPuller(t, cloudOptions(t, Options{Azure: AzureOptions{Endpoint: c.Endpoint, Account: c.Account, Key: c.Key,
		EndpointSuffix: "blob.core.chinacloudapi.cn"}}))
	_, dir, err := pullInto(t, p, Azure{Container: c.Container,
		BlobPath: "wasbs://" + c.Container + "@" + c.Account + ".blob.core.chinacloudapi.cn/druid/wiki/x/0/index.zip"}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, files)
}
