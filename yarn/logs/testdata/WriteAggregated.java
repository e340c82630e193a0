// Writes an aggregated log file with Hadoop's own AggregatedLogFormat.LogWriter,
// exactly as a NodeManager's LogAggregationTFileController does
// (initializeWriter: ACLs, then owner; then one append per container).
// Usage: java -cp "$(hadoop classpath):." WriteAggregated OUT_FILE ROOT_LOG_DIR APP_ID CONTAINER_ID... 
// Each container's logs are read from ROOT_LOG_DIR/APP_ID/CONTAINER_ID.
import java.util.*;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.yarn.api.records.ApplicationAccessType;
import org.apache.hadoop.yarn.api.records.ContainerId;
import org.apache.hadoop.yarn.logaggregation.AggregatedLogFormat.LogKey;
import org.apache.hadoop.yarn.logaggregation.AggregatedLogFormat.LogValue;
import org.apache.hadoop.yarn.logaggregation.AggregatedLogFormat.LogWriter;

public class WriteAggregated {
  public static void main(String[] args) throws Exception {
    Configuration conf = new Configuration();
    conf.set("fs.defaultFS", "file:///");
    UserGroupInformation ugi = UserGroupInformation.createRemoteUser("alice");
    LogWriter w = new LogWriter();
    w.initialize(conf, new Path("file://" + args[0]), ugi);
    Map<ApplicationAccessType, String> acls = new LinkedHashMap<>();
    acls.put(ApplicationAccessType.VIEW_APP, "alice,bob ops");
    acls.put(ApplicationAccessType.MODIFY_APP, "alice");
    w.writeApplicationACLs(acls);
    w.writeApplicationOwner("alice");
    for (int i = 3; i < args.length; i++) {
      ContainerId id = ContainerId.fromString(args[i]);
      w.append(new LogKey(id), new LogValue(Collections.singletonList(args[1]), id, "alice") {
        @Override
        public java.io.FileInputStream secureOpenFile(java.io.File f) throws java.io.IOException {
          return new java.io.FileInputStream(f); // SecureIOUtils needs native code to check the owner
        }
      });
    }
    w.close();
  }
}
