// A Java client of serve's TLS port as Druid's HTTP clients set one up from druid.client.https.*: a trust store of
// the given type and password, an SSLContext of protocol TLSv1.2 (SSLClientConfig's default), host names verified.
// Usage: java TLSHealth.java <url> <trustStorePath> <trustStoreType> <trustStorePassword>; prints status and body.
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class TLSHealth {
  public static void main(String[] args) throws Exception {
    KeyStore trust = KeyStore.getInstance(args[2]);
    try (InputStream in = new FileInputStream(args[1])) {
      trust.load(in, args[3].toCharArray());
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLSv1.2");
    ctx.init(null, tmf.getTrustManagers(), null);
    HttpsURLConnection conn = (HttpsURLConnection) new URL(args[0]).openConnection();
    conn.setSSLSocketFactory(ctx.getSocketFactory());
    conn.setConnectTimeout(10000);
    conn.setReadTimeout(10000);
    int status = conn.getResponseCode();
    String body = new String(conn.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    System.out.println(status + " " + body.trim() + " " + conn.getCipherSuite());
  }
}
