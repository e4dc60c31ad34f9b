// Package privs drops the master's privileges the way uWSGI does (PM-60):
// setgid, then the supplementary groups, then setuid. Unlike some
// supervisors it always sets the target user's supplementary groups
// (initgroups), so group-granted access keeps working after the drop.
//
// It does not decide when to drop: the master does (PM-61).
package privs

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// Request is what to drop to. Empty UID/GID leave them unchanged.
type Request struct {
	UID, GID     string   // names or numbers
	NoInitgroups bool     // no-initgroups
	AddGIDs      []string // add-gid: replaces the initgroups list
}

// Drop applies r and logs each step with logf.
func Drop(r Request, logf func(string, ...any)) error {
	if r.UID == "" && r.GID == "" {
		return nil
	}
	var u *user.User
	uid := -1
	if r.UID != "" {
		var err error
		u, uid, err = lookupUser(r.UID)
		if err != nil {
			return err
		}
	}
	if r.GID != "" {
		gid, err := lookupGroup(r.GID)
		if err != nil {
			return err
		}
		if err := syscall.Setgid(gid); err != nil {
			return fmt.Errorf("setgid(): %w", err)
		}
		logf("setgid() to %d", gid)
		groups, err := supplementary(r, u, uid, gid)
		if err != nil {
			return err
		}
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("setgroups(): %w", err)
		}
		for _, g := range groups {
			if g == gid {
				continue
			}
			name := strconv.Itoa(g)
			if grp, err := user.LookupGroupId(name); err == nil {
				name = grp.Name
			}
			logf("set additional group %d (%s)", g, name)
		}
	}
	if uid >= 0 {
		if err := syscall.Setuid(uid); err != nil {
			return fmt.Errorf("setuid(): %w", err)
		}
		logf("setuid() to %d", uid)
	}
	return nil
}

func supplementary(r Request, u *user.User, uid, gid int) ([]int, error) {
	if len(r.AddGIDs) > 0 {
		groups := []int{}
		for _, g := range r.AddGIDs {
			id, err := lookupGroup(g)
			if err != nil {
				return nil, err
			}
			groups = append(groups, id)
		}
		return groups, nil
	}
	if r.NoInitgroups || u == nil || uid == 0 {
		return []int{gid}, nil
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("initgroups(%s): %w", u.Username, err)
	}
	groups := []int{gid}
	for _, s := range ids {
		if id, err := strconv.Atoi(s); err == nil && id != gid {
			groups = append(groups, id)
		}
	}
	return groups, nil
}

func lookupUser(s string) (*user.User, int, error) {
	if id, err := strconv.Atoi(s); err == nil {
		u, _ := user.LookupId(s)
		return u, id, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return nil, 0, fmt.Errorf("user %s not found.", s)
	}
	id, _ := strconv.Atoi(u.Uid)
	return u, id, nil
}

func lookupGroup(s string) (int, error) {
	if id, err := strconv.Atoi(s); err == nil {
		return id, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("group %s not found.", s)
	}
	id, _ := strconv.Atoi(g.Gid)
	return id, nil
}
