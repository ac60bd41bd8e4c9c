// Reads, with Druid's own classes (druid-server's DiscoveryDruidNode, through Druid's DefaultObjectMapper), the
// annotation druidNodeInfo-historical that druid-sidecar patches onto its pod, and prints what a Broker's or a
// Coordinator's Kubernetes discovery takes from it; then prints, for each line of HOSTS_FILE (UTF-8), Java's
// String.hashCode negated when negative, as K8sDruidNodeAnnouncer computes the id-hash label.
//
// Usage: java K8sAnnotationInterop ANNOTATION_FILE HOSTS_FILE
import com.fasterxml.jackson.databind.InjectableValues;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import org.apache.druid.discovery.DataNodeService;
import org.apache.druid.discovery.DiscoveryDruidNode;
import org.apache.druid.jackson.DefaultObjectMapper;
import org.apache.druid.jackson.StringObjectPairList;
import org.apache.druid.jackson.ToStringObjectPairListDeserializer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

public class K8sAnnotationInterop
{
  public static void main(String[] args) throws Exception
  {
    ObjectMapper mapper = new DefaultObjectMapper();
    // As Druid's ServerModule sets the mapper up for discovery: services are read through StringObjectPairList, and
    // DiscoveryDruidNode is given the mapper itself; DruidNode injects defaults (service name, ports) where the JSON
    // has none, and the JSON has them all.
    mapper.registerModule(new SimpleModule().addDeserializer(StringObjectPairList.class, new ToStringObjectPairListDeserializer()));
    mapper.setInjectableValues(new InjectableValues.Std().addValue(ObjectMapper.class, mapper)
        .addValue(String.class, null).addValue(Integer.class, null));
    String json = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
    DiscoveryDruidNode node = mapper.readValue(json, DiscoveryDruidNode.class);
    System.out.println("role " + node.getNodeRole().getJsonName());
    System.out.println("service " + node.getDruidNode().getServiceName());
    System.out.println("host " + node.getDruidNode().getHost());
    System.out.println("plaintextPort " + node.getDruidNode().getPlaintextPort());
    System.out.println("tlsPort " + node.getDruidNode().getTlsPort());
    System.out.println("hostAndPortToUse " + node.getDruidNode().getHostAndPortToUse());
    DataNodeService d = (DataNodeService) node.getServices().get(DataNodeService.DISCOVERY_SERVICE_KEY);
    System.out.println("dataNodeService " + d.getTier() + " " + d.getMaxSize() + " " + d.getServerType() + " " + d.getPriority());
    int line = 0;
    for (String hostAndPort : Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8)) {
      int hash = hostAndPort.hashCode();
      if (hash < 0) {
        hash = -1 * hash;
      }
      System.out.println("idHash " + line++ + " " + hash);
    }
  }
}
