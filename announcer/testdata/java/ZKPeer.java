// A Java peer for announcer/zk_java_test.go: reads what druid-sidecar announced the way Druid's readers do
// (Curator PathChildrenCache with cacheData=true over compressed data, Jackson with the FIRST "type" of a service),
// and runs Curator LeaderLatch candidates whose leader the Go cluster reader must name.
//
// Usage: ZKPeer <connectString> <discoveryDir> <batchDir> <coordinatorLatch> <overlordLatch>
// Prints one line per finding, then READY; exits when a line arrives on stdin.
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.CompressionProvider;
import org.apache.curator.framework.imps.GzipCompressionProvider;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.PathChildrenCache;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class ZKPeer {
  /** Druid's PotentiallyGzippedCompressionProvider: gzip when asked, raw bytes when gunzip fails. */
  static class PotentiallyGzipped implements CompressionProvider {
    final GzipCompressionProvider gzip = new GzipCompressionProvider();
    public byte[] compress(String path, byte[] data) throws Exception { return gzip.compress(path, data); }
    public byte[] decompress(String path, byte[] data) throws Exception {
      try { return gzip.decompress(path, data); } catch (IOException e) { return data; }
    }
  }

  static final ObjectMapper MAPPER = new ObjectMapper();

  /** The first "type" of a service object, as Jackson's polymorphic id reads it. */
  static String firstType(byte[] json, String service) throws IOException {
    JsonParser p = MAPPER.getFactory().createParser(json);
    int depth = 0; boolean inServices = false, inService = false;
    for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
      if (t == JsonToken.START_OBJECT) depth++;
      else if (t == JsonToken.END_OBJECT) { depth--; if (inService && depth == 2) inService = false; }
      else if (t == JsonToken.FIELD_NAME) {
        String n = p.getCurrentName();
        if (depth == 1 && n.equals("services")) inServices = true;
        else if (inServices && depth == 2 && n.equals(service)) inService = true;
        else if (inService && depth == 3 && n.equals("type")) { p.nextToken(); return p.getText(); }
      }
    }
    return null;
  }

  public static void main(String[] args) throws Exception {
    CuratorFramework cf = CuratorFrameworkFactory.builder().connectString(args[0])
        .sessionTimeoutMs(10000).connectionTimeoutMs(10000)
        .retryPolicy(new ExponentialBackoffRetry(200, 5)).compressionProvider(new PotentiallyGzipped()).build();
    cf.start();
    if (!cf.blockUntilConnected(30, TimeUnit.SECONDS)) throw new IllegalStateException("no ZooKeeper connection");

    List<LeaderLatch> latches = new ArrayList<>();
    for (String id : new String[] {"http://127.0.0.31:8081", "http://127.0.0.32:8081", "http://127.0.0.33:8081"}) {
      LeaderLatch l = new LeaderLatch(cf, args[3], id);
      l.start();
      latches.add(l);
      if (latches.size() == 1 && !l.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("no coordinator leadership");
    }
    LeaderLatch overlord = new LeaderLatch(cf, args[4], "http://127.0.0.34:8090");
    overlord.start();
    if (!overlord.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("no overlord leadership");
    System.out.println("LEADER " + latches.get(2).getLeader().getId());

    PathChildrenCache nodes = new PathChildrenCache(cf, args[1], true, true, java.util.concurrent.Executors.newSingleThreadExecutor());
    nodes.start(PathChildrenCache.StartMode.BUILD_INITIAL_CACHE);
    for (ChildData c : nodes.getCurrentData()) {
      byte[] data = c.getData();
      byte[] fresh = cf.getData().decompressed().forPath(c.getPath());
      JsonNode n = MAPPER.readTree(data);
      JsonNode dn = n.get("druidNode"), ds = n.get("services").get("dataNodeService");
      List<String> keys = new ArrayList<>();
      for (Iterator<String> it = dn.fieldNames(); it.hasNext();) keys.add(it.next());
      System.out.println("NODE " + c.getPath().substring(c.getPath().lastIndexOf('/') + 1)
          + " nodeType=" + n.get("nodeType").asText()
          + " serviceType=" + firstType(data, "dataNodeService")
          + " serverType=" + ds.get("serverType").asText()
          + " tier=" + ds.get("tier").asText() + " maxSize=" + ds.get("maxSize").asLong()
          + " priority=" + ds.get("priority").asInt()
          + " host=" + dn.get("host").asText() + " plaintextPort=" + dn.get("plaintextPort").asInt()
          + " version=" + dn.get("version").asText() + " labelsNull=" + dn.get("labels").isNull()
          + " startTime=" + n.get("startTime").asText()
          + " druidNodeKeys=" + String.join(",", keys)
          + " freshEqualsCached=" + Arrays.equals(data, fresh)
          + " gzipOnWire=" + isGzip(cf.getData().forPath(c.getPath())));
    }
    nodes.close();

    PathChildrenCache batches = new PathChildrenCache(cf, args[2], true, true, java.util.concurrent.Executors.newSingleThreadExecutor());
    batches.start(PathChildrenCache.StartMode.BUILD_INITIAL_CACHE);
    boolean printedKeys = false;
    for (ChildData c : batches.getCurrentData()) {
      JsonNode arr = MAPPER.readTree(c.getData());
      for (JsonNode seg : arr) {
        if (!printedKeys) {
          List<String> keys = new ArrayList<>();
          for (Iterator<String> it = seg.fieldNames(); it.hasNext();) keys.add(it.next());
          System.out.println("SEGKEYS " + String.join(",", keys));
          printedKeys = true;
        }
        System.out.println("SEG " + seg.get("identifier").asText());
      }
    }
    batches.close();
    System.out.println("READY");
    System.out.flush();

    new BufferedReader(new InputStreamReader(System.in)).readLine();
    for (LeaderLatch l : latches) l.close();
    overlord.close();
    cf.close();
    System.exit(0); // the caches' executors are not daemons
  }

  static boolean isGzip(byte[] b) { return b.length > 2 && (b[0] & 0xff) == 0x1f && (b[1] & 0xff) == 0x8b; }
}
