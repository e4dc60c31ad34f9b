package emperor

import (
	"fmt"
	"os/user"
	"strconv"
)

// Identity is the user a tyrant vassal runs as (T-10, T-13, T-16).
type Identity struct {
	UID, GID int
	// Groups is the complete supplementary group list to set: the file
	// group and every group of the owner's user (initgroups), or empty
	// under no-initgroups (uWSGI 2.0's setgroups(0, NULL), T-14).
	Groups []int
	// User is the owner's login name, "" if the uid has no passwd entry.
	User string
	// Warning explains a degraded group list (no passwd entry).
	Warning string
}

// Refused reports whether tyrant mode must refuse a file with this
// owner (T-11): a root owner or a root group would hand the vassal root.
func Refused(uid, gid int) bool { return uid == 0 || gid == 0 }

// userGroups looks a uid up: its login name and the ids of every group
// it belongs to (passwd primary group included). found is false when
// the uid has no passwd entry.
type userGroups func(uid int) (name string, groups []int, found bool, err error)

// systemGroups answers userGroups from the system databases (NSS).
func systemGroups(uid int) (string, []int, bool, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		if _, ok := err.(user.UnknownUserIdError); ok {
			return "", nil, false, nil
		}
		return "", nil, false, fmt.Errorf("look up uid %d: %w", uid, err)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return u.Username, nil, true, fmt.Errorf("initgroups(%s): %w", u.Username, err)
	}
	var groups []int
	for _, s := range ids {
		if g, err := strconv.Atoi(s); err == nil {
			groups = append(groups, g)
		}
	}
	return u.Username, groups, true, nil
}

// TyrantIdentity computes the identity for a file owned by uid:gid. The
// group vector equals what a uid=/gid= drop gives the same user (I-22):
// the file group first, then the user's other groups, no duplicates.
func TyrantIdentity(uid, gid int, noInitgroups bool) (Identity, error) {
	return tyrantIdentity(uid, gid, noInitgroups, systemGroups)
}

func tyrantIdentity(uid, gid int, noInitgroups bool, lookup userGroups) (Identity, error) {
	id := Identity{UID: uid, GID: gid, Groups: []int{}}
	if Refused(uid, gid) {
		return id, fmt.Errorf("owner %d:%d is root", uid, gid)
	}
	if noInitgroups {
		return id, nil
	}
	name, groups, found, err := lookup(uid)
	if err != nil {
		return id, err
	}
	id.Groups = []int{gid}
	if !found {
		id.Warning = fmt.Sprintf("uid %d has no passwd entry, only group %d is set", uid, gid)
		return id, nil
	}
	id.User = name
	for _, g := range groups {
		if g != gid && g != 0 && !containsInt(id.Groups, g) {
			// Group 0 is never handed out: a user listed in root's group
			// must not gain it through tyrant mode.
			id.Groups = append(id.Groups, g)
		}
	}
	return id, nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// groupName is a group's name for the log, its number if unknown.
func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}
