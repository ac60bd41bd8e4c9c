package deepstorage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
)

// AzureOptions say how to reach Azure Blob Storage, as Druid's azure extension does (druid.azure.*): the storage
// account's blob endpoint <protocol>://<account>.<endpoint suffix>, authenticated by the account's shared key or,
// without one, a shared access signature.
type AzureOptions struct {
	// Account is the storage account (druid.azure.account).
	Account string
	// Key is the account's shared key (druid.azure.key); it is used when set, as Druid does.
	Key string
	// SAS is a shared access signature (druid.azure.sharedAccessStorageToken), used when Key is empty.
	SAS string
	// CredentialsChain is druid.azure.useAzureCredentialsChain, which druid-sidecar does not support: with neither
	// Key nor SAS, pulls fail saying so.
	CredentialsChain bool
	// Protocol is the endpoint's scheme (druid.azure.protocol); empty means https.
	Protocol string
	// EndpointSuffix is the blob endpoint's host suffix (druid.azure.storageAccountEndpointSuffix, or blob. followed
	// by the deprecated druid.azure.endpointSuffix); empty means blob.core.windows.net.
	EndpointSuffix string
	// Endpoint is the blob service's URL in the account's stead, such as Azurite's
	// http://127.0.0.1:10000/devstoreaccount1. Empty means <Protocol>://<Account>.<EndpointSuffix>.
	Endpoint string
	// ListPageSize is the blobs of a listing's page (druid.azure.maxListingLength); 0 means 1024, Druid's.
	ListPageSize int
	// HTTPClient, when set, carries every request. The default is the same HTTP/1.1 client as for S3.
	HTTPClient *http.Client
}

func (o AzureOptions) blobSuffix() string {
	if o.EndpointSuffix != "" {
		return o.EndpointSuffix
	}
	return defaultAzureBlobSuffix
}

// serviceURL is the account's blob endpoint.
func (o AzureOptions) serviceURL() (string, error) {
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("the Azure endpoint %q is not an http:// or https:// URL", o.Endpoint)
		}
		return strings.TrimRight(o.Endpoint, "/") + "/", nil
	}
	if o.Account == "" {
		return "", errors.New("no Azure storage account: set druid.azure.account")
	}
	proto := o.Protocol
	if proto == "" {
		proto = "https"
	}
	if proto != "http" && proto != "https" {
		return "", fmt.Errorf("druid.azure.protocol is %q, not http or https", proto)
	}
	return proto + "://" + o.Account + "." + o.blobSuffix() + "/", nil
}

// azureStore reads Azure Blob Storage through the official client (azblob).
type azureStore struct {
	client   *azblob.Client
	pageSize int32
}

func newAzureStore(o AzureOptions) (store, error) {
	service, err := o.serviceURL()
	if err != nil {
		return nil, err
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: defaultHTTPClient().GetTransport(), CheckRedirect: noRedirects}
	}
	opts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: hc,
		// Pulls retry themselves, resuming cut transfers; the client's own retries would multiply theirs.
		Retry:     policy.RetryOptions{MaxRetries: -1},
		Telemetry: policy.TelemetryOptions{Disabled: true},
	}}
	var client *azblob.Client
	switch {
	case o.Key != "":
		if o.Account == "" {
			return nil, errors.New("druid.azure.key is set but druid.azure.account is not: a shared key signs for its account")
		}
		cred, err := azblob.NewSharedKeyCredential(o.Account, o.Key)
		if err != nil {
			return nil, fmt.Errorf("druid.azure.key is not a storage account key (base64): %w", err)
		}
		client, err = azblob.NewClientWithSharedKeyCredential(service, cred, opts)
		if err != nil {
			return nil, fmt.Errorf("making the Azure Blob Storage client: %w", err)
		}
	case o.SAS != "":
		client, err = azblob.NewClientWithNoCredential(service+"?"+strings.TrimPrefix(o.SAS, "?"), opts)
		if err != nil {
			return nil, fmt.Errorf("making the Azure Blob Storage client: %w", err)
		}
	case o.CredentialsChain:
		return nil, errors.New("druid.azure.useAzureCredentialsChain is not supported by druid-sidecar: set " +
			"druid.azure.key or druid.azure.sharedAccessStorageToken")
	default:
		return nil, errors.New("no Azure credentials: set druid.azure.key (the storage account's key) or " +
			"druid.azure.sharedAccessStorageToken (a shared access signature)")
	}
	pageSize := o.ListPageSize
	if pageSize <= 0 {
		pageSize = 1024
	}
	return &azureStore{client: client, pageSize: int32(min(pageSize, 5000))}, nil // 5000: the service's maximum
}

// read downloads with a ranged Get Blob; reads after the first are conditional on the blob's ETag (If-Match).
func (a *azureStore) read(ctx context.Context, loc location, start, end int64, etag string) (reply, error) {
	bc := a.client.ServiceClient().NewContainerClient(loc.bucket).NewBlobClient(loc.key)
	opts := &blob.DownloadStreamOptions{}
	if start > 0 || end >= 0 {
		opts.Range = blob.HTTPRange{Offset: start} // Count 0: to the end
		if end >= 0 {
			opts.Range.Count = end - start + 1
		}
	}
	if etag != "" {
		match := azcore.ETag(etag)
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &match}}
	}
	resp, err := bc.DownloadStream(ctx, opts)
	if err != nil {
		return reply{}, err
	}
	rep := reply{body: resp.Body, length: -1}
	if resp.ContentLength != nil {
		rep.length = *resp.ContentLength
	}
	if resp.ContentRange != nil {
		rep.contentRange = *resp.ContentRange
	}
	if resp.ETag != nil {
		rep.etag = string(*resp.ETag)
	}
	return rep, nil
}

func (a *azureStore) list(ctx context.Context, loc location, token string, pageSize int) ([]listed, string, error) {
	n := a.pageSize
	if pageSize > 0 {
		n = int32(min(pageSize, 5000))
	}
	opts := &azblob.ListBlobsFlatOptions{MaxResults: &n}
	if loc.key != "" {
		opts.Prefix = &loc.key
	}
	if token != "" {
		opts.Marker = &token
	}
	page, err := a.client.NewListBlobsFlatPager(loc.bucket, opts).NextPage(ctx)
	if err != nil {
		return nil, "", err
	}
	var objs []listed
	if page.Segment != nil {
		objs = make([]listed, 0, len(page.Segment.BlobItems))
		for _, b := range page.Segment.BlobItems {
			if b.Name == nil {
				continue
			}
			o := listed{Object: Object{Key: *b.Name}}
			if p := b.Properties; p != nil {
				if p.ContentLength != nil {
					o.Size = *p.ContentLength
				}
				if p.LastModified != nil {
					o.LastModified = *p.LastModified
				}
				if p.ETag != nil {
					o.etag = string(*p.ETag)
				}
			}
			objs = append(objs, o)
		}
	}
	next := ""
	if page.NextMarker != nil {
		next = *page.NextMarker
	}
	return objs, next, nil
}

// classifyAzure reads an answer of Azure Blob Storage (an HTTP status with its x-ms-error-code); nil when no
// answer arrived.
func classifyAzure(loc location, err error) *storeError {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return nil
	}
	code := re.ErrorCode
	if code == "ContainerNotFound" {
		return &storeError{short: "404 " + code, status: re.StatusCode, err: err, kind: ErrNotFound,
			msg: fmt.Sprintf("%s: container %q does not exist (404 %s): check the container in the load spec and the "+
				"storage account (druid.azure.account)", loc, loc.bucket, code)}
	}
	retry := code == "ServerBusy" || code == "OperationTimedOut" || code == "InternalError"
	return statusError(loc, err, re.StatusCode, code, "", retry,
		"druid.azure.account with druid.azure.key or druid.azure.sharedAccessStorageToken")
}
